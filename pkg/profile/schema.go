package profile

import (
	"encoding/json"
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

func schemaOf(t reflect.Type, tag reflect.StructTag) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := map[string]any{}
	switch {
	case t == setType:
		s["type"] = "string"
		s["pattern"] = `^\s*([0-9]+(-[0-9]+(:[0-9]+/[0-9]+)?)?)?(\s*,\s*[0-9]+(-[0-9]+(:[0-9]+/[0-9]+)?)?)*\s*$`
		s["examples"] = []string{"2-7", "1,3,5-9", "0-15:2/4"}
	case t == sizeType:
		s["type"] = "string"
		s["pattern"] = `^\s*[0-9]+\s*([kKmMgG]([iI]?[bB])?)\s*$`
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
		case reflect.Slice:
			s["type"] = "array"
			s["items"] = schemaOf(t.Elem(), enumOnly(tag))
		case reflect.String:
			s["type"] = "string"
		case reflect.Bool:
			s["type"] = "boolean"
		case reflect.Int:
			s["type"] = "integer"
		}
	}
	if t.Kind() != reflect.Slice {
		if e, ok := tag.Lookup("enum"); ok {
			s["enum"] = strings.Split(e, ",")
		}
	}
	for _, k := range []string{"min", "max"} {
		if v, ok := tag.Lookup(k); ok {
			n, _ := strconv.Atoi(v)
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
