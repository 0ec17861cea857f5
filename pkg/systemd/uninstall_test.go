package systemd

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
)

// TestUninstallRemovesThroughWriter: every removal uninstall makes, the
// /etc/nettune directory's too, goes through the Root's Writer (which
// resolves it inside the root and is where faults are injected); a
// directory the Writer cannot remove is a warning.
func TestUninstallRemovesThroughWriter(t *testing.T) {
	ctx := context.Background()
	setup := func(w host.Writer) *host.Root {
		root := fixture.Unpack(t, "testdata/host.txtar")
		r, err := host.New(root)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Install(ctx, r, "/usr/local/sbin/nettune", []byte(testProfile)); err != nil {
			t.Fatal(err)
		}
		r.W = w
		return r
	}
	count := &fixture.FailingWriter{W: host.OSWriter{}}
	r := setup(count)
	if _, err := Uninstall(ctx, r); err != nil {
		t.Fatal(err)
	}
	// The last write is the directory's removal.
	fw := &fixture.FailingWriter{W: host.OSWriter{}, FailAt: count.Calls, Err: syscall.EROFS}
	r = setup(fw)
	warn, err := Uninstall(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := "remove " + r.Path("/etc/nettune"); fw.Failed != want {
		t.Fatalf("last write of uninstall: %q, want %q", fw.Failed, want)
	}
	if !strings.Contains(strings.Join(warn, "\n"), "read-only file system") {
		t.Errorf("warnings %q do not report the directory left behind", warn)
	}
	if _, err := os.Stat(r.Path("/etc/nettune")); err != nil {
		t.Errorf("/etc/nettune: %v; the refused removal happened", err)
	}
}
