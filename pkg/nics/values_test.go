package nics

import (
	"slices"
	"testing"

	"github.com/nettune/nettune/pkg/ethtool"
)

// FuzzRSSValue: the RSS value nettune records for a table (even:N or the
// queue numbers) turns back into the same table for a device of that
// table's size, and any accepted value yields a table of that size.
func FuzzRSSValue(f *testing.F) {
	f.Add("even:4", 128)
	f.Add("0 1 1 0", 4)
	f.Add("even:0", 8)
	f.Add("even:-1", 3)
	f.Fuzz(func(t *testing.T, s string, size int) {
		size = max(0, size%4096)
		tab, err := parseIndir(s, size)
		if err != nil {
			return
		}
		if len(tab) != size {
			t.Fatalf("%q for a table of %d: %d entries", s, size, len(tab))
		}
		v := formatIndir(tab)
		back, err := parseIndir(v, size)
		if err != nil || !slices.Equal(back, tab) {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, tab, v, back, err)
		}
		if raw, err := ethtool.ParseIndir(ethtool.FormatIndir(tab)); err != nil || !slices.Equal(raw, tab) {
			t.Fatalf("%v: plain form does not round-trip: %v, %v", tab, raw, err)
		}
	})
}
