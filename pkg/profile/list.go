package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Entry is one profile that can be named on the command line.
type Entry struct {
	Name string `json:"name" yaml:"name"`
	// Source is "shipped" or the file's path.
	Source      string `json:"source" yaml:"source"`
	Description string `json:"description" yaml:"description"`
	// ShadowedBy is the file that a name lookup finds instead of this
	// shipped profile.
	ShadowedBy string `json:"shadowed_by,omitempty" yaml:"shadowed_by,omitempty"`
	// Error says why the file cannot be read as a profile.
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

// List returns the profiles in dir (the operator's, <name>.yaml; a missing
// dir is none), then the shipped ones, each sorted by name. show is the
// path dir is reported as (the host path of a directory read under a
// root). The description is the profile's own metadata.description, or
// the one it inherits through extends.
func List(dir, show string) ([]Entry, error) {
	var out []Entry
	local := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list %s: %w", show, err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok || e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		shown := filepath.Join(show, e.Name())
		local[name] = shown
		ent := Entry{Name: name, Source: shown}
		p, err := loadFrom(filepath.Join(dir, e.Name()), dir)
		if err != nil {
			// Name the file by its host path, as the listing does.
			ent.Error = strings.ReplaceAll(firstLine(err.Error()), dir, show)
		} else {
			ent.Description = p.Metadata.Description
		}
		out = append(out, ent)
	}
	shipped := Shipped()
	sort.Strings(shipped)
	for _, name := range shipped {
		ent := Entry{Name: name, Source: "shipped", ShadowedBy: local[name]}
		if p, err := loadFrom(name, ""); err != nil {
			ent.Error = firstLine(err.Error())
		} else {
			ent.Description = p.Metadata.Description
		}
		out = append(out, ent)
	}
	return out, nil
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
