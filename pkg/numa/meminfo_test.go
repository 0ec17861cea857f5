package numa

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseMeminfo(t *testing.T) {
	node := "Node 1 MemTotal:       16303412 kB\nNode 1 MemFree:        15870544 kB\nNode 1 MemUsed:          432868 kB\n"
	if total, free := parseMeminfo(strings.NewReader(node), 2); total != 16303412 || free != 15870544 {
		t.Errorf("node meminfo: %d %d", total, free)
	}
	host := "MemTotal:       32605360 kB\nMemFree:        30170096 kB\nHugepagesize:       2048 kB\n"
	if total, free := parseMeminfo(strings.NewReader(host), 0); total != 32605360 || free != 30170096 {
		t.Errorf("meminfo: %d %d", total, free)
	}
	if got := parseMeminfoKey(strings.NewReader(host), "Hugepagesize:"); got != 2048 {
		t.Errorf("Hugepagesize = %d", got)
	}
	if got := parseMeminfoKey(strings.NewReader("Hugepagesize: x kB\n"), "Hugepagesize:"); got != 0 {
		t.Errorf("bad Hugepagesize = %d", got)
	}
}

// FuzzParseMeminfo: whatever precedes them, the last MemTotal and MemFree
// lines of a per-node (or host) meminfo file are what the parser returns,
// and the first line of a key is what parseMeminfoKey returns.
func FuzzParseMeminfo(f *testing.F) {
	f.Add("Node 0 MemTotal: 1 kB\nNode 0 MemFree: x kB\n", uint64(16303412), uint64(15870544), true)
	f.Add("MemTotal:\nHugepagesize: 2048 kB\n", uint64(0), uint64(1<<63), false)
	f.Fuzz(func(t *testing.T, noise string, total, free uint64, node bool) {
		skip, prefix := 0, ""
		if node {
			skip, prefix = 2, "Node 3 "
		}
		parseMeminfo(strings.NewReader(noise), skip)
		parseMeminfoKey(strings.NewReader(noise), "Hugepagesize:")
		if len(noise) > 60000 {
			return // beyond bufio.Scanner's line limit
		}
		lines := fmt.Sprintf("%sMemTotal:  %d kB\n%sMemFree:\t%d kB\n", prefix, total, prefix, free)
		if gt, gf := parseMeminfo(strings.NewReader(noise+"\n"+lines), skip); gt != total || gf != free {
			t.Fatalf("%q: got %d %d, want %d %d", noise+"\n"+lines, gt, gf, total, free)
		}
		in := fmt.Sprintf("Hugepagesize: %d kB\n%s\nHugepagesize: 1 kB\n", total, noise)
		if got := parseMeminfoKey(strings.NewReader(in), "Hugepagesize:"); got != total {
			t.Fatalf("%q: Hugepagesize = %d, want %d", in, got, total)
		}
	})
}
