package nics

import (
	"slices"
	"strings"
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

// TestFeatureDidYouMean: a misspelt feature got no suggestion unless one
// name contained the other; suggestions come from the NIC's own list.
func TestFeatureDidYouMean(t *testing.T) {
	have := map[string]ethtool.Feature{
		"rx-gro": {}, "rx-gro-hw": {}, "rx-gro-list": {}, "tx-tcp-segmentation": {},
		"tx-tcp6-segmentation": {}, "rx-checksum": {}, "rx-hashing": {},
	}
	for _, tc := range []struct{ name, want string }{
		{"tx-tcp-segmentaton", "did you mean tx-tcp-segmentation, tx-tcp6-segmentation?"},
		{"rx-chksum", "did you mean rx-checksum?"},
		{"rx-gro-lst", "did you mean rx-gro-list, rx-gro-hw, rx-gro?"},
	} {
		_, err := featureName(tc.name, have)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("featureName(%q) = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := featureName("frobnicate", have); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("featureName(frobnicate) = %v, want no suggestion", err)
	}
}
