package exporter

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nettune/nettune/pkg/profile"
	dto "github.com/prometheus/client_model/go"
)

// syncBuffer is a log destination scrapes may write concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// profileName is the profile label of nettune_profile_in_sync.
func profileName(t *testing.T, fams map[string]*dto.MetricFamily) string {
	t.Helper()
	for _, m := range fams["nettune_profile_in_sync"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "profile" {
				return l.GetValue()
			}
		}
	}
	t.Fatal("no nettune_profile_in_sync")
	return ""
}

// TestProfileReload edits the profile file between scrapes: in place, with
// an error, fixed again, and replaced by a rename (an editor's save).
func TestProfileReload(t *testing.T) {
	path := writeProfile(t, testProfile)
	var logs syncBuffer
	c := testCollectorFor(t, path, slog.New(slog.NewTextHandler(&logs, nil)))
	type want struct {
		profile         string
		success, loadOK float64
		errors          float64
		logged          string
	}
	check := func(step string, w want) float64 {
		t.Helper()
		fams := scrape(t, c)
		if got := profileName(t, fams); got != w.profile {
			t.Errorf("%s: checks profile %q, want %q", step, got, w.profile)
		}
		for name, v := range map[string]float64{
			"nettune_scrape_success":            w.success,
			"nettune_profile_last_load_success": w.loadOK,
			"nettune_profile_load_errors_total": w.errors,
		} {
			if got, ok := value(fams[name], nil); !ok || got != v {
				t.Errorf("%s: %s = %v (found %v), want %v", step, name, got, ok, v)
			}
		}
		if w.logged != "" && !strings.Contains(logs.String(), w.logged) {
			t.Errorf("%s: the log lacks %q:\n%s", step, w.logged, logs.String())
		}
		at, _ := value(fams["nettune_profile_loaded_timestamp_seconds"], nil)
		return at
	}

	first := check("loaded", want{profile: "p", success: 1, loadOK: 1})

	edited := strings.Replace(testProfile, "{name: p}", "{name: edited}", 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if at := check("edited in place", want{profile: "edited", success: 1, loadOK: 1, logged: "profile reloaded"}); at < first {
		t.Errorf("loaded at %v after the edit, %v before", at, first)
	}

	if err := os.WriteFile(path, []byte(edited+"  bogus: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := want{profile: "edited", success: 0, loadOK: 0, errors: 1, logged: "reload of the profile failed"}
	check("broken", broken)
	check("still broken, unchanged", broken)

	if err := os.WriteFile(path, []byte(testProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	check("fixed", want{profile: "p", success: 1, loadOK: 1, errors: 1})

	// Same size, new inode: what an editor's write-and-rename does.
	renamed := strings.Replace(testProfile, "{name: p}", "{name: r}", 1)
	tmp := filepath.Join(filepath.Dir(path), ".p.yaml.swp")
	if err := os.WriteFile(tmp, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	check("replaced by rename", want{profile: "r", success: 1, loadOK: 1, errors: 1})
}

// TestProfileReloadExtends edits the file a profile extends.
func TestProfileReloadExtends(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.yaml")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(base, "apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: base}\nspec:\n  sysctl:\n    net.core.netdev_max_backlog: 1000\n")
	child := filepath.Join(dir, "child.yaml")
	write(child, "apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: child}\nextends: base.yaml\nspec:\n  sysctl:\n    net.core.netdev_budget: 600\n")
	c := testCollectorFor(t, child, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ok := map[string]string{"module": "sysctl", "status": "ok"}
	if got, _ := value(scrape(t, c)["nettune_profile_items"], ok); got != 1 {
		t.Fatalf("before the edit: %v settings ok, want 1 (netdev_max_backlog)", got)
	}
	write(base, "apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: base}\nspec:\n  sysctl:\n    net.core.netdev_max_backlog: 20000\n")
	if got, _ := value(scrape(t, c)["nettune_profile_items"], ok); got != 0 {
		t.Errorf("after editing the base: %v settings ok, want 0 (netdev_max_backlog now drifts)", got)
	}
}

func TestWatchedFiles(t *testing.T) {
	p := &profile.Profile{Source: "shipped:kernel-throughput", Positions: map[string]profile.Position{"sysctl": {File: "shipped:kernel-throughput"}}}
	got := watchedFiles("kernel-throughput", p)
	want := []string{filepath.Join(profile.EtcDir, "kernel-throughput.yaml"), "kernel-throughput"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("shipped profile by name: watches %v, want %v (where an operator's file would take its place)", got, want)
	}
	p = &profile.Profile{Source: "/etc/p.yaml", Positions: map[string]profile.Position{"sysctl": {File: "/etc/base.yaml"}, "cpu": {File: "/etc/p.yaml"}}}
	got = watchedFiles("/etc/p.yaml", p)
	if want := []string{"/etc/base.yaml", "/etc/p.yaml"}; !slices.Equal(got, want) {
		t.Errorf("file extending a file: watches %v, want %v", got, want)
	}
}
