package profile

import (
	"fmt"
	"reflect"
	"strings"
)

// Reference renders the field reference of the profile format as Markdown,
// from the struct tags (docs/profile-fields.md is this output).
func Reference() string {
	var b strings.Builder
	b.WriteString("<!-- Generated from pkg/profile/types.go by 'make schema'. Do not edit. -->\n")
	b.WriteString("# Profile field reference\n\n")
	b.WriteString("Every key nettune accepts, with its type and constraints. The meaning of each section, with\nexamples, is in [profile.md](profile.md).\n\n")
	b.WriteString("| key | type | required | description |\n|---|---|---|---|\n")
	refFields(&b, reflect.TypeFor[Profile](), "")
	return b.String()
}

func refFields(b *strings.Builder, t reflect.Type, prefix string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		typ := typeName(ft)
		var notes []string
		if e, ok := f.Tag.Lookup("enum"); ok {
			notes = append(notes, "one of `"+strings.ReplaceAll(e, ",", "`, `")+"`")
		}
		if v, ok := f.Tag.Lookup("min"); ok {
			notes = append(notes, "≥ "+v)
		}
		if v, ok := f.Tag.Lookup("max"); ok {
			notes = append(notes, "≤ "+v)
		}
		desc := f.Tag.Get("doc")
		if len(notes) > 0 {
			if desc != "" {
				desc += " "
			}
			desc += "(" + strings.Join(notes, "; ") + ")"
		}
		req := ""
		if f.Tag.Get("required") == "true" {
			req = "yes"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", path, typ, req, strings.ReplaceAll(desc, "|", "\\|"))
		switch {
		case ft.Kind() == reflect.Struct && ft != setType:
			refFields(b, ft, path+".")
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			refFields(b, ft.Elem(), path+"[].")
		}
	}
}

func typeName(t reflect.Type) string {
	switch {
	case t == setType:
		return "CPU list"
	case t == sizeType:
		return "size"
	case t == reflect.TypeFor[SysctlValue]():
		return "value"
	case t == reflect.TypeFor[Nanoseconds]():
		return "time (ns)"
	}
	switch t.Kind() {
	case reflect.Struct:
		return "mapping"
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Int:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	}
	return t.String()
}
