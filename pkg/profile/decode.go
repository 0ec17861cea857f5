package profile

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a profile, located in its file.
type Error struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"column"`
	// Path is the field path, for example spec.nics[0].rings.rx.
	Path string `json:"path,omitempty"`
	Msg  string `json:"message"`
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col)
	}
	if e.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// ErrorList is every problem found in a profile, in file order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Is makes errors.Is(err, ErrInvalid) true for profile errors.
func (l ErrorList) Is(target error) bool { return target == ErrInvalid }

// Is makes errors.Is(err, ErrInvalid) true for profile errors.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// nodeDecoder is implemented by types that read themselves from a node.
type nodeDecoder interface {
	decodeNode(n *yaml.Node) error
}

// decoder walks a yaml.Node tree into a Go value, strictly: unknown keys,
// duplicate keys, wrong types, bad enums and out-of-range numbers are all
// errors with the position of the offending node.
type decoder struct {
	files map[*yaml.Node]string // node -> file it came from
	file  string                // default file
	errs  ErrorList
}

const maxErrors = 20

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	if len(d.errs) >= maxErrors {
		return
	}
	f := d.file
	if ff, ok := d.files[n]; ok {
		f = ff
	}
	e := &Error{File: f, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	nodeDecoderType     = reflect.TypeFor[nodeDecoder]()
)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// decode fills v (addressable) from n. tag carries the struct field's
// constraints when v is a field.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, tag reflect.StructTag) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		return // null leaves the zero value: "not set"
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path, tag)
		return
	}
	if v.Addr().Type().Implements(nodeDecoderType) {
		if err := v.Addr().Interface().(nodeDecoder).decodeNode(n); err != nil {
			d.fail(n, path, "%v", err)
		}
		return
	}
	if v.Addr().Type().Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "expected a scalar, got %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path, tag)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i), tag)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "expected a string, got %s", kindName(n))
			return
		}
		if !d.checkEnum(n, path, tag, n.Value) {
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.fail(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		v.SetBool(b)
	case reflect.Int:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
			// yaml.v3 tags an integer beyond 64 bits as a float.
			if b, ok := parseYAMLInt(n.Value); ok {
				if b.Sign() < 0 {
					d.fail(n, path, "%s is below the minimum %s", n.Value, minOf(tag))
				} else {
					d.fail(n, path, "%s is above the maximum %s", n.Value, maxOf(tag))
				}
				return
			}
		}
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.fail(n, path, "expected an integer, got %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			// An unsigned 64-bit literal yaml.v3 still tags !!int.
			d.fail(n, path, "%s is above the maximum %s", n.Value, maxOf(tag))
			return
		}
		if lo, ok := tag.Lookup("min"); ok {
			if m, _ := strconv.ParseInt(lo, 10, 64); i < m {
				d.fail(n, path, "%d is below the minimum %d", i, m)
				return
			}
		}
		if hi, ok := tag.Lookup("max"); ok {
			if m, _ := strconv.ParseInt(hi, 10, 64); i > m {
				d.fail(n, path, "%d is above the maximum %d", i, m)
				return
			}
		}
		v.SetInt(i)
	default:
		d.fail(n, path, "internal error: cannot decode into %s", v.Type())
	}
}

func (d *decoder) checkEnum(n *yaml.Node, path string, tag reflect.StructTag, val string) bool {
	enum, ok := tag.Lookup("enum")
	if !ok {
		return true
	}
	for _, e := range strings.Split(enum, ",") {
		if val == e {
			return true
		}
	}
	d.fail(n, path, "invalid value %q; valid choices: %s", val, strings.Join(strings.Split(enum, ","), ", "))
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

type fieldInfo struct {
	index    int
	name     string
	required bool
	tag      reflect.StructTag
}

func structFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		out = append(out, fieldInfo{index: i, name: name, required: f.Tag.Get("required") == "true", tag: f.Tag})
	}
	return out
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := structFields(v.Type())
	byName := map[string]fieldInfo{}
	var names []string
	for _, f := range fields {
		byName[f.name] = f
		names = append(names, f.name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		if seen[key] {
			d.fail(k, join(path, key), "duplicate key")
			continue
		}
		seen[key] = true
		f, ok := byName[key]
		if !ok {
			msg := fmt.Sprintf("unknown field %q", key)
			if s := suggest(key, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.fail(k, join(path, key), "%s (valid: %s)", msg, strings.Join(names, ", "))
			continue
		}
		if f.required && isNull(val) {
			d.fail(val, join(path, key), "must not be null")
			continue
		}
		d.decode(val, v.Field(f.index), join(path, key), f.tag)
	}
	for _, f := range fields {
		if f.required && !seen[f.name] {
			d.fail(n, join(path, f.name), "missing required field %q", f.name)
		}
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string, tag reflect.StructTag) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			d.fail(k, path, "keys must be non-empty strings")
			continue
		}
		p := path + "." + k.Value
		if seen[k.Value] {
			d.fail(k, p, "duplicate key")
			continue
		}
		seen[k.Value] = true
		if isNull(val) {
			continue // a null entry removes an inherited one; nothing to set
		}
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, e, p, tag)
		v.SetMapIndex(reflect.ValueOf(k.Value), e)
	}
}

// suggest returns the candidate closest to s when it is close enough to be
// a likely typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := EditDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Suggest is exported for modules that report unknown names (sysctls,
// features) with a likely intended one.
func Suggest(s string, candidates []string) string {
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	return suggest(s, sorted)
}

// EditDistance is the Levenshtein distance of two names, for "did you
// mean" suggestions (profile keys here, NIC features in pkg/nics).
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// minOf and maxOf are the bounds of an integer field: its tags, else what
// an int64 holds.
func minOf(tag reflect.StructTag) string {
	if v, ok := tag.Lookup("min"); ok {
		return v
	}
	return strconv.FormatInt(math.MinInt64, 10)
}

func maxOf(tag reflect.StructTag) string {
	if v, ok := tag.Lookup("max"); ok {
		return v
	}
	return strconv.FormatInt(math.MaxInt64, 10)
}
