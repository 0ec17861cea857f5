package ethtool

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// CaptureHost writes the ethtool state of every network interface of the
// live host (lo excepted) into StateDir under dir, for `nettune snapshot`.
// It returns the number of files written.
func CaptureHost(dir string) (int, error) {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return 0, fmt.Errorf("list network interfaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() == "lo" || e.Type().IsRegular() {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if len(names) == 0 {
		return 0, nil
	}
	l, err := openLive()
	if err != nil {
		return 0, err
	}
	defer l.Close()
	out := filepath.Join(dir, StateDir)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		// A query that fails for another reason than "not supported"
		// (an interface going away) leaves its section out, as an
		// unsupported one would: the snapshot keeps what could be read.
		s, _ := Capture(l, name)
		if err := os.WriteFile(filepath.Join(out, name+".json"), s.Encode(), 0o644); err != nil {
			return n, fmt.Errorf("snapshot ethtool state of %s: %w", name, err)
		}
		n++
	}
	return n, nil
}
