package profile

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
)

// Schema returns the JSON Schema (draft 2020-12) of the profile format,
// derived from the same struct tags the decoder enforces, so the two cannot
// disagree. schema/profile.schema.json is this output.
func Schema() ([]byte, error) {
	s := schemaOf(reflect.TypeFor[Profile](), "")
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://github.com/nettune/nettune/schema/profile.schema.json"
	s["title"] = "nettune profile"
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

var (
	setType  = reflect.TypeFor[cpuset.Set]()
	sizeType = reflect.TypeFor[Size]()
)

type schemaer interface{ schema() map[string]any }

// FormatCPUList is the JSON Schema format of CPU lists. A regular
// expression cannot compare numbers, so the pattern of a CPU list checks
// its syntax and CPU numbers, and the format adds what needs arithmetic:
// a range must not run backwards (4-2), a stride must fit its group. A
// validator that asserts formats checks it with CheckCPUList.
const FormatCPUList = "cpu-list"

// CheckCPUList is the check behind FormatCPUList: the decoder's own.
func CheckCPUList(s string) error {
	_, err := cpuset.Parse(s)
	return err
}

var (
	// cpuNumber is 0 to cpuset.MaxCPU (8191), leading zeros allowed.
	cpuNumber = `0*(?:[0-9]|[1-9][0-9]{1,2}|[1-7][0-9]{3}|8[01][0-9]{2}|819[01])`
	cpuElem   = cpuNumber + `(?:-` + cpuNumber + `(?::[+-]?[0-9]+/[+-]?[0-9]+)?)?`
	// cpuListPattern is the kernel's list syntax; the empty list is allowed.
	cpuListPattern = `^[` + spaceClass + `]*(?:` + cpuElem + `(?:[` + spaceClass + `]*,[` + spaceClass + `]*` + cpuElem + `)*)?[` + spaceClass + `]*$`
	// sysctlNamePattern is CheckSysctlName as a regular expression:
	// surrounding whitespace ignored, then the dotted form (a slash inside
	// an element stands for a dot, so an element is not "/" or "//"), or
	// the slash form (dots are literal, an element is not "." or "..",
	// leading and trailing slashes ignored); at least two elements, none
	// empty, no whitespace in them, no dot in the first.
	sysctlNamePattern = func() string {
		a := `[^` + spaceClass + `/.]` // no slash, no dot
		b := `[^` + spaceClass + `/]`  // no slash
		d := `[^` + spaceClass + `.]`  // no dot
		dotted := a + `+(?:\.(?:` + a + d + `*|/` + a + d + `*|//` + d + `+))+`
		el := `(?:` + a + b + `*|\.` + a + b + `*|\.\.` + b + `+)`
		slashed := `/*` + a + `+(?:/` + el + `)+/*`
		return `^[` + spaceClass + `]*(?:` + dotted + `|` + slashed + `)[` + spaceClass + `]*$`
	}()
	// sizePattern is what ParseSize reads.
	sizePattern = `^[` + spaceClass + `]*0*[1-9][0-9]{0,` + strconv.Itoa(maxSizeDigits-1) + `}[` + spaceClass + `]*[kKmMgG](?:[iI]?[bB])?[` + spaceClass + `]*$`
)

func schemaOf(t reflect.Type, tag reflect.StructTag) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := map[string]any{}
	switch {
	case t == setType:
		s["type"] = "string"
		s["pattern"] = cpuListPattern
		s["format"] = FormatCPUList
		s["examples"] = []string{"2-7", "1,3,5-9", "0-15:2/4"}
	case t == sizeType:
		s["type"] = "string"
		s["pattern"] = sizePattern
		s["examples"] = []string{"2M", "1G"}
	case reflect.PointerTo(t).Implements(reflect.TypeFor[schemaer]()):
		s = reflect.New(t).Interface().(schemaer).schema()
	default:
		switch t.Kind() {
		case reflect.Struct:
			s["type"] = "object"
			s["additionalProperties"] = false
			props := map[string]any{}
			var req []string
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if name == "" || name == "-" {
					continue
				}
				props[name] = schemaOf(f.Type, f.Tag)
				if f.Tag.Get("required") == "true" {
					req = append(req, name)
				}
			}
			s["properties"] = props
			if len(req) > 0 {
				s["required"] = req
			}
		case reflect.Map:
			s["type"] = "object"
			s["additionalProperties"] = schemaOf(t.Elem(), "")
			if t.Elem() == reflect.TypeFor[SysctlValue]() {
				s["propertyNames"] = map[string]any{"pattern": sysctlNamePattern}
			}
		case reflect.Slice:
			s["type"] = "array"
			s["items"] = schemaOf(t.Elem(), enumOnly(tag))
		case reflect.String:
			s["type"] = "string"
		case reflect.Bool:
			s["type"] = "boolean"
		case reflect.Int:
			s["type"] = "integer"
			// What the decoder reads into an int64 when no tag narrows it.
			s["minimum"] = math.MinInt64
			s["maximum"] = math.MaxInt64
		}
	}
	if t.Kind() != reflect.Slice {
		if e, ok := tag.Lookup("enum"); ok {
			s["enum"] = strings.Split(e, ",")
		}
	}
	for _, k := range []string{"min", "max"} {
		if v, ok := tag.Lookup(k); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			s[map[string]string{"min": "minimum", "max": "maximum"}[k]] = n
		}
	}
	if d, ok := tag.Lookup("doc"); ok {
		s["description"] = d
	}
	return s
}

// enumOnly keeps the enum of a list field for its elements.
func enumOnly(tag reflect.StructTag) reflect.StructTag {
	if e, ok := tag.Lookup("enum"); ok {
		return reflect.StructTag(`enum:"` + e + `"`)
	}
	return ""
}
