package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/cli"
	"github.com/nettune/nettune/pkg/systemd"
	"github.com/spf13/cobra"
)

// TestGenerate: one section 8 page per command, each verb's with its
// examples; the three completion scripts; the units run the packaged
// binary, and the page their Documentation= names exists.
func TestGenerate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	dir := t.TempDir()
	man, comp, units := filepath.Join(dir, "man8"), filepath.Join(dir, "completions"), filepath.Join(dir, "systemd")
	if err := run([]string{"-man", man, "-completions", comp, "-systemd", units, "-binary", "/usr/sbin/nettune"}); err != nil {
		t.Fatal(err)
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() {
				walk(s)
			}
		}
		page := filepath.Join(man, strings.ReplaceAll(c.CommandPath(), " ", "-")+".8")
		b, err := os.ReadFile(page)
		if err != nil {
			t.Errorf("%s: no man page: %v", c.CommandPath(), err)
			return
		}
		if c.Example != "" && !strings.Contains(string(b), ".SH EXAMPLE") {
			t.Errorf("%s has no EXAMPLE section", page)
		}
		if strings.Contains(string(b), "Auto generated") {
			t.Errorf("%s carries cobra's dated auto-generated tag", page)
		}
	}
	walk(cli.Command())
	for _, f := range []string{"nettune.bash", "_nettune", "nettune.fish"} {
		if b, err := os.ReadFile(filepath.Join(comp, f)); err != nil || len(b) == 0 {
			t.Errorf("completion %s: %v (%d bytes)", f, err, len(b))
		}
	}
	rendered, err := systemd.Render("/usr/sbin/nettune")
	if err != nil {
		t.Fatal(err)
	}
	for f := range rendered {
		b, err := os.ReadFile(filepath.Join(units, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if strings.Contains(s, systemd.Marker) {
			t.Errorf("%s: the packaged copy carries 'nettune install''s marker, so 'nettune uninstall' would treat it as its own", f)
		}
		if strings.HasSuffix(f, ".service") && !strings.Contains(s, "\nExecStart=/usr/sbin/nettune ") {
			t.Errorf("%s does not run /usr/sbin/nettune:\n%s", f, s)
		}
		if strings.Contains(s, "Documentation=man:nettune(8)") {
			if _, err := os.Stat(filepath.Join(man, "nettune.8")); err != nil {
				t.Errorf("%s names man:nettune(8): %v", f, err)
			}
		}
	}
}
