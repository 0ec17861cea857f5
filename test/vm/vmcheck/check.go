package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// checkDoc is the document of nettune check -o json (internal/cli/check.go).
type checkDoc struct {
	FormatVersion string `json:"format_version"`
	Kind          string `json:"kind"`
	Profile       string `json:"profile"`
	Status        string `json:"status"`
	Items         []struct {
		Module    string `json:"module"`
		Object    string `json:"object"`
		Attribute string `json:"attribute"`
		Before    string `json:"before"`
		After     string `json:"after"`
		Status    string `json:"status"`
		Detail    string `json:"detail"`
	} `json:"items"`
	Problems []struct {
		Severity string `json:"severity"`
		Module   string `json:"module"`
		Message  string `json:"message"`
	} `json:"problems"`
}

func readCheck(path string) (*checkDoc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d checkDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if d.Kind != "check" {
		return nil, fmt.Errorf("%s: kind %q, want check", path, d.Kind)
	}
	return &d, nil
}

// verifyCheck asserts the overall status of a check document (one of
// statuses) and, when module is set, the status of that module's items:
// "ok" means the module has items and all are ok, "not-ok" that at least
// one is not ok.
func verifyCheck(d *checkDoc, statuses []string, module, items string) ([]string, error) {
	var lines []string
	if len(statuses) > 0 {
		if !slices.Contains(statuses, d.Status) {
			return nil, fmt.Errorf("check status %q, want %s%s", d.Status, strings.Join(statuses, " or "), notOK(d, ""))
		}
		lines = append(lines, fmt.Sprintf("check status %s", d.Status))
	}
	if module == "" {
		return lines, nil
	}
	n, bad := 0, 0
	for _, it := range d.Items {
		if it.Module != module {
			continue
		}
		n++
		if it.Status != "ok" {
			bad++
		}
	}
	switch items {
	case "ok":
		if n == 0 {
			return nil, fmt.Errorf("check has no item of module %s", module)
		}
		if bad > 0 {
			return nil, fmt.Errorf("%d of %d items of module %s are not ok%s", bad, n, module, notOK(d, module))
		}
		lines = append(lines, fmt.Sprintf("all %d items of module %s ok", n, module))
	case "not-ok":
		if bad == 0 {
			return nil, fmt.Errorf("all %d items of module %s are ok, want at least one not ok", n, module)
		}
		lines = append(lines, fmt.Sprintf("%d of %d items of module %s not ok", bad, n, module))
	default:
		return nil, usageError{fmt.Sprintf("-items %q: want ok or not-ok", items)}
	}
	return lines, nil
}

// notOK lists the items that are not ok, for a failure message.
func notOK(d *checkDoc, module string) string {
	var b strings.Builder
	for _, it := range d.Items {
		if it.Status == "ok" || (module != "" && it.Module != module) {
			continue
		}
		fmt.Fprintf(&b, "\n  %s %s %s %s: want %q, have %q %s", it.Status, it.Module, it.Object, it.Attribute, it.After, it.Before, it.Detail)
	}
	for _, p := range d.Problems {
		fmt.Fprintf(&b, "\n  %s %s: %s", p.Severity, p.Module, p.Message)
	}
	return b.String()
}

func cmdCheck(args []string, out io.Writer) error {
	fs := newFlags("check")
	file := fs.String("file", "", "nettune check -o json output")
	status := fs.String("status", "", "comma-separated acceptable overall statuses")
	module := fs.String("module", "", "module whose items to verify")
	items := fs.String("items", "ok", "ok: every item of -module ok; not-ok: at least one not ok")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" || (*status == "" && *module == "") {
		return usageError{"need -file FILE and -status or -module"}
	}
	d, err := readCheck(*file)
	if err != nil {
		return err
	}
	var statuses []string
	if *status != "" {
		statuses = strings.Split(*status, ",")
	}
	lines, err := verifyCheck(d, statuses, *module, *items)
	if err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(out, "ok:", l)
	}
	return nil
}
