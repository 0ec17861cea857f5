package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// applyDoc is the document of nettune apply -o json: the changes made, in
// the order they were made.
type applyDoc struct {
	Kind    string `json:"kind"`
	Applied []struct {
		Module    string `json:"module"`
		Object    string `json:"object"`
		Attribute string `json:"attribute"`
		Before    string `json:"before"`
		After     string `json:"after"`
	} `json:"applied"`
}

// changeSpec is "module|object|attribute|after": a change of module to
// object whose attribute contains attribute and whose new value contains
// after.
type changeSpec struct{ module, object, attribute, after string }

func parseChangeSpec(s string) (changeSpec, error) {
	f := strings.Split(s, "|")
	if len(f) != 4 || f[0] == "" || f[1] == "" {
		return changeSpec{}, usageError{fmt.Sprintf("change %q: want module|object|attribute|after", s)}
	}
	return changeSpec{f[0], f[1], f[2], f[3]}, nil
}

// verifyApplied asserts that every spec matches an applied change and,
// with order ["a", "b"], that every change of module a was made before the
// first change of module b.
func verifyApplied(d *applyDoc, specs []changeSpec, order []string) ([]string, error) {
	var lines []string
	for _, s := range specs {
		found := false
		for _, c := range d.Applied {
			if c.Module == s.module && c.Object == s.object && strings.Contains(c.Attribute, s.attribute) && strings.Contains(c.After, s.after) {
				lines = append(lines, fmt.Sprintf("applied %s %s %s: %q -> %q", c.Module, c.Object, c.Attribute, c.Before, c.After))
				found = true
				break
			}
		}
		if !found {
			var have []string
			for _, c := range d.Applied {
				if c.Module == s.module {
					have = append(have, fmt.Sprintf("%s %s %q", c.Object, c.Attribute, c.After))
				}
			}
			return nil, fmt.Errorf("no applied %s change of %s %s to a value containing %q (module %s applied: %s)",
				s.module, s.object, s.attribute, s.after, s.module, strings.Join(have, "; "))
		}
	}
	for i := 0; i+1 < len(order); i++ {
		first, then := order[i], order[i+1]
		last, start := -1, -1
		for j, c := range d.Applied {
			if c.Module == first {
				last = j
			}
			if c.Module == then && start < 0 {
				start = j
			}
		}
		if last < 0 {
			return nil, fmt.Errorf("order %s before %s: the apply made no %s change", first, then, first)
		}
		if start < 0 {
			return nil, fmt.Errorf("order %s before %s: the apply made no %s change", first, then, then)
		}
		if last > start {
			return nil, fmt.Errorf("change %d (%s) was applied after change %d (%s), want every %s change first", last+1, first, start+1, then, first)
		}
		lines = append(lines, fmt.Sprintf("every %s change before the first %s change", first, then))
	}
	return lines, nil
}

func cmdApplied(args []string, out io.Writer) error {
	fs := newFlags("applied")
	file := fs.String("file", "", "nettune apply -o json output")
	order := fs.String("order", "", "comma-separated modules whose changes must come in this order")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" || (fs.NArg() == 0 && *order == "") {
		return usageError{"need -file FILE and module|object|attribute|after specs or -order"}
	}
	var specs []changeSpec
	for _, a := range fs.Args() {
		s, err := parseChangeSpec(a)
		if err != nil {
			return err
		}
		specs = append(specs, s)
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	var d applyDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("decode %s: %w", *file, err)
	}
	if d.Kind != "apply" {
		return fmt.Errorf("%s: kind %q, want apply", *file, d.Kind)
	}
	var ord []string
	if *order != "" {
		ord = strings.Split(*order, ",")
	}
	lines, err := verifyApplied(&d, specs, ord)
	if err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(out, "ok:", l)
	}
	return nil
}
