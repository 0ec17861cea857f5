package profile

import (
	"math/big"
	"strings"
	"testing"
)

// FuzzParseSize: an accepted size is positive, a whole number of kB, and
// exactly the number times the unit (no overflow); its String spelling
// parses back to it, and so does the kernel's "<n>kB" spelling of a page
// size.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"2M", "1G", "2048kB", "1GiB", " 64 k ", "0M", "1B", "18014398509481984G", "00000000000000000001g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sz, err := ParseSize(s)
		if err != nil {
			return
		}
		if sz == 0 || sz%KiB != 0 {
			t.Fatalf("%q: size %d", s, uint64(sz))
		}
		tt := strings.TrimSpace(s)
		i := len(tt) - len(strings.TrimLeft(tt, "0123456789"))
		n, _ := new(big.Int).SetString(tt[:i], 10)
		unit := map[byte]int64{'k': int64(KiB), 'm': int64(MiB), 'g': int64(GiB)}[strings.ToLower(strings.TrimSpace(tt[i:]))[0]]
		if want := n.Mul(n, big.NewInt(unit)); !want.IsUint64() || want.Uint64() != uint64(sz) {
			t.Fatalf("%q read as %d bytes, want %s", s, uint64(sz), want)
		}
		spellings := []string{sz.String()}
		if sz <= 16*GiB {
			// The kernel's spelling (hugepages-<n>kB), for the page
			// sizes kernels have (16G on ppc64 is the largest).
			spellings = append(spellings, big.NewInt(0).SetUint64(sz.KB()).String()+"kB")
		}
		for _, again := range spellings {
			if back, err := ParseSize(again); err != nil || back != sz {
				t.Fatalf("%q -> %d -> %q -> %d, %v", s, uint64(sz), again, uint64(back), err)
			}
		}
	})
}
