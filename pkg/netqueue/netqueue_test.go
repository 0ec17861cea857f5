package netqueue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
)

// clampWriter writes 0 whatever it is given, like a kernel that refuses
// silently.
type clampWriter struct{ host.OSWriter }

func (clampWriter) WriteKernel(path, _ string) error { return host.OSWriter{}.WriteKernel(path, "0") }

func queueRoot(t *testing.T) *host.Root {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []struct{ p, c string }{
		{"sys/class/net/eth0/queues/rx-0/rps_cpus", "00000000,00000000,00000000\n"},
		{"sys/class/net/eth0/queues/rx-0/rps_flow_cnt", "0\n"},
		{"sys/class/net/eth0/queues/rx-10/rps_cpus", "00000000,00000000,00000000\n"},
		{"sys/class/net/eth0/queues/rx-2/rps_cpus", "00000000,00000000,00000000\n"},
		{"sys/class/net/eth0/queues/tx-0/xps_cpus", "00000000,00000000,00000000\n"},
		{"proc/sys/net/core/rps_sock_flow_entries", "0\n"},
	} {
		p := filepath.Join(dir, f.p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(f.c), 0o644)
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestQueuesAndMasks(t *testing.T) {
	r := queueRoot(t)
	rx, err := RXQueues(r, "eth0")
	if err != nil || len(rx) != 3 || rx[0] != 0 || rx[1] != 2 || rx[2] != 10 {
		t.Fatalf("RXQueues = %v, %v", rx, err)
	}
	tx, _ := TXQueues(r, "eth0")
	if len(tx) != 1 {
		t.Errorf("TXQueues = %v", tx)
	}
	if _, err := RXQueues(r, "eth9"); err == nil {
		t.Error("missing interface listed")
	}
	// List reads both from one listing, numerically sorted (rx-10 after
	// rx-2, as RXQueues).
	lrx, ltx, err := List(r, "eth0")
	if err != nil || fmt.Sprint(lrx) != fmt.Sprint(rx) || fmt.Sprint(ltx) != fmt.Sprint(tx) {
		t.Errorf("List = %v %v, %v; want %v %v", lrx, ltx, err, rx, tx)
	}
	if _, _, err := List(r, "eth9"); err == nil {
		t.Error("List of a missing interface")
	}
	// 96 possible CPUs: three words; CPU 70 lands in the top one.
	set := cpuset.MustParse("1,33,70")
	mask := set.Mask(96)
	if mask != "00000040,00000002,00000002" {
		t.Fatalf("mask = %s", mask)
	}
	if err := WriteMask(r, RPSPath("eth0", 2), mask); err != nil {
		t.Fatal(err)
	}
	raw, got, err := ReadMask(r, RPSPath("eth0", 2))
	if err != nil || !got.Equal(set) || raw != mask {
		t.Errorf("ReadMask = %q %s %v", raw, got, err)
	}
	if err := WriteCount(r, SockFlowEntriesPath, "32768"); err != nil {
		t.Fatal(err)
	}
	r.W = clampWriter{}
	if err := WriteMask(r, XPSPath("eth0", 0), "3"); !errors.Is(err, ErrVerify) {
		t.Errorf("clamped mask: %v, want ErrVerify", err)
	}
	if err := WriteCount(r, FlowCntPath("eth0", 0), "2048"); !errors.Is(err, ErrVerify) {
		t.Errorf("clamped count: %v, want ErrVerify", err)
	}
}

func TestKernelMask(t *testing.T) {
	for _, tc := range []struct {
		cpus  string
		nbits int
		want  string
	}{
		{"4-5", 8, "30"},
		{"", 8, "00"},
		{"0", 2, "1"},
		{"0-1", 2, "3"},
		{"4-5", 40, "00,00000030"},
		{"39", 40, "80,00000000"},
		{"0", 64, "00000000,00000001"},
		{"0", 96, "00000000,00000000,00000001"},
		{"70", 8, "40,00000000,00000000"},
	} {
		if got := Mask(cpuset.MustParse(tc.cpus), tc.nbits); got != tc.want {
			t.Errorf("Mask(%s, %d) = %s, want %s", tc.cpus, tc.nbits, got, tc.want)
		}
	}
}

func TestSpreadAndFlowCount(t *testing.T) {
	got := Spread(5, cpuset.MustParse("4-6"), true)
	var s []string
	for _, c := range got {
		s = append(s, c.String())
	}
	if strings.Join(s, " ") != "4 5 6 4 5" {
		t.Errorf("Spread one = %v", s)
	}
	for _, c := range Spread(2, cpuset.MustParse("4-6"), false) {
		if c.String() != "4-6" {
			t.Errorf("Spread all = %s", c)
		}
	}
	for _, tc := range []struct{ entries, queues, want int }{
		{32768, 16, 2048},
		{32768, 3, 16384}, // 10922 rounds up as the kernel does
		{32768, 0, 0},
		{0, 8, 0},
		{4096, 4096, 1},
	} {
		if got := FlowCount(tc.entries, tc.queues); got != tc.want {
			t.Errorf("FlowCount(%d, %d) = %d, want %d", tc.entries, tc.queues, got, tc.want)
		}
	}
}

// FuzzListMask: a CPU list written as a mask reads back as the same list,
// whatever the machine's width.
func FuzzListMask(f *testing.F) {
	for _, s := range []string{"0", "0-3", "31,32", "63-64", "0-127:2/4", "1,33,70,200", "4095"} {
		f.Add(s, uint16(8))
	}
	f.Fuzz(func(t *testing.T, list string, nbits uint16) {
		s, err := cpuset.Parse(list)
		if err != nil || s.Max() > 4095 {
			return
		}
		m := Mask(s, int(nbits%4097))
		back, err := cpuset.ParseMask(m)
		if err != nil {
			t.Fatalf("ParseMask(%q) from list %q: %v", m, list, err)
		}
		if !back.Equal(s) || back.String() != s.String() {
			t.Fatalf("list %q -> mask %q -> %s", list, m, back)
		}
	})
}

// FuzzMaskList: a mask in the kernel's spelling (8-digit words) survives
// decoding to a CPU set and encoding again.
func FuzzMaskList(f *testing.F) {
	for _, m := range []string{"00000001", "ffffffff,ffffffff", "00000040,00000002,00000002", "80000000,00000000,00000000,00000000"} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, m string) {
		s, err := cpuset.ParseMask(m)
		if err != nil {
			return
		}
		words := strings.Split(strings.TrimSpace(m), ",")
		for _, w := range words {
			if len(w) != 8 {
				return // only the kernel's own spelling round-trips exactly
			}
		}
		if got := s.Mask(len(words) * 32); got != strings.ToLower(strings.TrimSpace(m)) {
			t.Fatalf("mask %q -> %s -> %q", m, s, got)
		}
		back, err := cpuset.Parse(s.String())
		if err != nil || !back.Equal(s) {
			t.Fatalf("list %q of mask %q does not parse back: %v", s, m, err)
		}
	})
}

// TestSpreadCoversEveryCPU: spread gave each queue one CPU, so 64 queues
// over 256 CPUs mapped 64 of them; every CPU must be mapped, in runs whose
// sizes differ by at most one.
func TestSpreadCoversEveryCPU(t *testing.T) {
	for _, tc := range []struct {
		n    int
		cpus string
	}{{64, "0-255"}, {3, "0-7"}, {8, "0-7"}, {10, "0-3"}} {
		all := cpuset.MustParse(tc.cpus)
		sets := Spread(tc.n, all, true)
		var union cpuset.Set
		lo, hi := 1<<30, 0
		for _, s := range sets {
			union = union.Union(s)
			lo, hi = min(lo, s.Len()), max(hi, s.Len())
		}
		if !union.Equal(all) || hi-lo > 1 || lo == 0 {
			t.Errorf("Spread(%d, %s) covers %s, sizes %d-%d", tc.n, tc.cpus, union, lo, hi)
		}
	}
}
