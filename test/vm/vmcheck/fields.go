package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// readJSON decodes a JSON document saved from nettune -o json. Numbers stay
// json.Number so that large counters are compared exactly.
func readJSON(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return v, nil
}

// normKey folds a JSON key for loose matching: lower case, without '_',
// '-', '.' and spaces, so iommu_group, iommuGroup and IOMMU-Group are one
// key.
func normKey(k string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(k) {
		switch r {
		case '_', '-', '.', ' ':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fields is one JSON object with its keys folded by normKey. The members of
// a nested object are also reachable under the parent's key followed by
// theirs: {"iommu": {"group": 3}} has "iommu" and "iommugroup".
type fields map[string]any

func flatten(obj map[string]any) fields {
	f := fields{}
	for k, v := range obj {
		nk := normKey(k)
		f[nk] = v
		if sub, ok := v.(map[string]any); ok {
			for k2, v2 := range sub {
				f[nk+normKey(k2)] = v2
			}
		}
	}
	return f
}

// get returns the value of the first alias present (and not null), with
// the alias that matched.
func (f fields) get(aliases ...string) (any, string, bool) {
	for _, a := range aliases {
		if v, ok := f[normKey(a)]; ok && v != nil {
			return v, a, true
		}
	}
	return nil, "", false
}

// keys lists the folded keys, for error messages.
func (f fields) keys() string {
	var ks []string
	for k := range f {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// asInt reads a JSON number or a string holding an integer.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			f, ferr := x.Float64()
			if ferr != nil || f != float64(int64(f)) {
				return 0, false
			}
			return int64(f), true
		}
		return n, true
	case float64:
		if x != float64(int64(x)) {
			return 0, false
		}
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// asStrings reads a string or a list of strings; an empty string is an
// empty list.
func asStrings(v any) ([]string, bool) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil, true
		}
		return []string{x}, true
	case []any:
		var out []string
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// objects visits every JSON object in v with its depth (the top level is 0).
func objects(v any, depth int, visit func(obj map[string]any, depth int)) {
	switch x := v.(type) {
	case map[string]any:
		visit(x, depth)
		for _, e := range x {
			objects(e, depth+1, visit)
		}
	case []any:
		for _, e := range x {
			objects(e, depth+1, visit)
		}
	}
}

// findByValue returns the object that describes key: the shallowest object
// with a string member equal to one of want, preferring the one with more
// members (a device over an entry of its IOMMU group's member list).
func findByValue(doc any, want ...string) (fields, bool) {
	var best map[string]any
	bestDepth := -1
	objects(doc, 0, func(obj map[string]any, depth int) {
		match := false
		for _, v := range obj {
			s, ok := v.(string)
			if !ok {
				continue
			}
			for _, w := range want {
				if s == w {
					match = true
				}
			}
		}
		if !match {
			return
		}
		if best == nil || depth < bestDepth || (depth == bestDepth && len(obj) > len(best)) {
			best, bestDepth = obj, depth
		}
	})
	if best == nil {
		return nil, false
	}
	return flatten(best), true
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
