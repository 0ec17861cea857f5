package ethtool

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/nettune/nettune/pkg/host"
)

func steerFiles(t *testing.T, state string) *Files {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, StateDir, "eth0.json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &Files{Root: r}
}

// TestFilesSteering: the offline state refuses what drivers refuse.
func TestFilesSteering(t *testing.T) {
	f := steerFiles(t, `{"channels": {"combined": 2, "maxCombined": 2}, "rssIndir": "0 1 0 1",
  "features": {"rx-ntuple-filter": {"active": false}},
  "rxFlowHash": {"tcp6": "", "udp4": "sd"}, "rxFlowHashChoices": {"udp4": ["sd", "sdfn"]},
  "rssHash": {"func": "toeplitz", "funcs": ["toeplitz"]},
  "ntuple": {"size": 4, "special": true}}`)
	// virtio_net answers 0 (no fields) for a type its device does not hash.
	if v, err := f.FlowHash("eth0", "tcp6"); err != nil || v != "" {
		t.Errorf("tcp6: %q %v", v, err)
	}
	if _, err := f.FlowHash("eth0", "udp6"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("udp6 not answered: %v", err)
	}
	if err := f.SetFlowHash("eth0", "udp4", "sdf"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("udp4 sdf: %v", err)
	}
	if err := f.SetRSSHash("eth0", "", nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("nothing to set: %v", err)
	}
	if err := f.SetRSSHash("eth0", "", make([]byte, 40)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("a key for a driver without one (igb): %v", err)
	}
	r := Rule{FlowType: "udp4", Queue: 1, Location: LocAny}
	if _, err := f.InsertRule("eth0", r); !errors.Is(err, ErrNotSupported) {
		t.Errorf("insert with rx-ntuple-filter off: %v", err)
	}
	if err := f.SetFeatures("eth0", map[string]bool{"rx-ntuple-filter": true}); err != nil {
		t.Fatal(err)
	}
	for want := range uint32(2) {
		r.Queue = uint64(want)
		if loc, err := f.InsertRule("eth0", r); err != nil || loc != want {
			t.Errorf("insert at any: %d %v, want %d", loc, err, want)
		}
	}
	r.Queue = 2
	if _, err := f.InsertRule("eth0", r); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("queue 2 of 2: %v", err)
	}
	if err := f.DeleteRule("eth0", 3); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("delete an empty location: %v", err)
	}
	if _, err := DecodeState([]byte(`{"rxFlowHash": {"udp4": "sdx"}}`)); err == nil {
		t.Error("a state with a bad hash letter decodes")
	}
}
