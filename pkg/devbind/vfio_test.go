package devbind

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
)

// plainWriter is a host.Writer without Chown.
type plainWriter struct{ host.Writer }

func ownerOfFile(t *testing.T, p string) Owner {
	t.Helper()
	o, err := ownerOf(p)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestChownThroughWriter: the chown of a VFIO group node goes through the
// Root's Writer, never around it: resolved inside the root (a node that
// is a link out of the root is refused), counted by fault injection, and
// refused when the Writer cannot chown.
func TestChownThroughWriter(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	os.MkdirAll(filepath.Join(root, "dev/vfio"), 0o755)
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "12"), nil, 0o600)
	os.WriteFile(filepath.Join(root, "dev/vfio/13"), nil, 0o600)
	os.Symlink("../../../outside/12", filepath.Join(root, "dev/vfio/12"))
	r, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	before := ownerOfFile(t, filepath.Join(outside, "12"))
	to := Owner{before.UID + 1000, before.GID + 1000}

	if err := chown(r, r.Dev("vfio/12"), to.UID, to.GID); !errors.Is(err, host.ErrOutsideRoot) {
		t.Errorf("chown through a link out of the root: %v, want ErrOutsideRoot", err)
	}
	if got := ownerOfFile(t, filepath.Join(outside, "12")); got != before {
		t.Errorf("file outside the root chowned to %s", got)
	}

	r.W = plainWriter{r.W}
	if err := chown(r, r.Dev("vfio/13"), to.UID, to.GID); !errors.Is(err, module.ErrUnsupported) {
		t.Errorf("chown with a writer that cannot: %v, want ErrUnsupported", err)
	}
	if got := ownerOfFile(t, r.Dev("vfio/13")); got != before {
		t.Errorf("chown went around the writer: owner %s", got)
	}

	fw := &fixture.FailingWriter{W: host.OSWriter{Root: r.Prefix}, FailAt: 1, Err: syscall.EPERM}
	r.W = fw
	if err := chown(r, r.Dev("vfio/13"), to.UID, to.GID); !errors.Is(err, syscall.EPERM) || fw.Calls != 1 {
		t.Errorf("chown under fault injection: %v after %d calls, want the injected EPERM", err, fw.Calls)
	}
	if os.Geteuid() != 0 {
		return // chown to another user needs root
	}
	fw.FailAt = 0
	if err := chown(r, r.Dev("vfio/13"), to.UID, to.GID); err != nil {
		t.Fatal(err)
	}
	if got := ownerOfFile(t, r.Dev("vfio/13")); got != to {
		t.Errorf("owner %s after chown to %s", got, to)
	}
}
