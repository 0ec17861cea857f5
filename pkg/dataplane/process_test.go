package dataplane

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindForwarder(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "nettune")
	next := filepath.Join(dir, ForwarderProgram)
	found := map[string]bool{}
	look := func(p string) (string, error) {
		if found[p] {
			return p, nil
		}
		return "", os.ErrNotExist
	}
	if _, err := FindForwarder(self, look); !errors.Is(err, ErrNoForwarder) {
		t.Fatalf("nothing installed: err = %v, want ErrNoForwarder", err)
	} else {
		for _, want := range []string{next, "/usr/lib/nettune/nettune-forwarder", "nettune-forwarder in PATH", "apt-get install nettune-forwarder,"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	}
	found[ForwarderProgram] = true
	if got, _ := FindForwarder(self, look); got != ForwarderProgram {
		t.Errorf("only in PATH: got %q", got)
	}
	found["/usr/lib/nettune/nettune-forwarder"] = true
	if got, _ := FindForwarder(self, look); got != "/usr/lib/nettune/nettune-forwarder" {
		t.Errorf("in /usr/lib/nettune and PATH: got %q", got)
	}
	found[next] = true
	if got, _ := FindForwarder(self, look); got != next {
		t.Errorf("next to nettune: got %q, want %q", got, next)
	}
}

func TestMissingLibrary(t *testing.T) {
	for _, tt := range []struct{ in, lib, pkg string }{
		{"/usr/lib/nettune/nettune-forwarder: error while loading shared libraries: librte_ethdev.so.23: cannot open shared object file: No such file or directory", "librte_ethdev.so.23", "librte-ethdev23"},
		{"x: error while loading shared libraries: librte_net_null.so.23.0: cannot open", "librte_net_null.so.23.0", "librte-net-null23"},
		{"EAL: cannot init", "", ""},
	} {
		lib, pkg := MissingLibrary(tt.in)
		if lib != tt.lib || pkg != tt.pkg {
			t.Errorf("MissingLibrary(%q) = %q, %q; want %q, %q", tt.in, lib, pkg, tt.lib, tt.pkg)
		}
	}
}
