package cpuset

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      string
	}{
		{in: "", want: ""},
		{in: "0\n", want: "0"},
		{in: "0-3,8", want: "0-3,8"},
		{in: "8,0-3,2", want: "0-3,8"},
		{in: " 1 , 3 ", want: "1,3"},
		{in: "0-15:2/4", want: "0-1,4-5,8-9,12-13"},
		{in: "0-7:1/2", want: "0,2,4,6"},
		{in: "0-6:3/4", want: "0-2,4-6"},
		{in: "3-1", err: "runs backwards"},
		{in: "a", err: "is not a cpu number"},
		{in: "1,,2", err: "empty element"},
		{in: "1-", err: "missing cpu number"},
		{in: "-1", err: "missing cpu number"},
		{in: "5:1/2", err: "needs a range"},
		{in: "0-5:3/2", err: "bad stride group"},
		{in: "0-5:0/2", err: "bad stride"},
		{in: "0-5:2", err: "used/group"},
		{in: "99999", err: "out of range"},
	} {
		got, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) error = %v, want containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMask(t *testing.T) {
	for _, tc := range []struct {
		set   string
		nbits int
		mask  string
	}{
		{"", 4, "00000000"},
		{"0-3", 4, "0000000f"},
		{"0", 64, "00000000,00000001"},
		{"32", 40, "00000001,00000000"},
		{"0-39", 40, "000000ff,ffffffff"},
		{"63", 8, "80000000,00000000"},
		{"0,64,127", 128, "80000000,00000001,00000000,00000001"},
	} {
		s := MustParse(tc.set)
		if got := s.Mask(tc.nbits); got != tc.mask {
			t.Errorf("%q.Mask(%d) = %q, want %q", tc.set, tc.nbits, got, tc.mask)
		}
		back, err := ParseMask(tc.mask)
		if err != nil || !back.Equal(s) {
			t.Errorf("ParseMask(%q) = %v, %v; want %v", tc.mask, back, err, s)
		}
	}
}

func TestParseMaskShortForms(t *testing.T) {
	for in, want := range map[string]string{
		"f":            "0-3",
		"3\n":          "0-1",
		"1,0":          "32",
		"0,00000000":   "",
		"ffffffff,0":   "32-63",
		"00000000,0f0": "4-7",
	} {
		got, err := ParseMask(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseMask(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "g", "1,,2", "123456789", ",1"} {
		if _, err := ParseMask(bad); err == nil {
			t.Errorf("ParseMask(%q) succeeded", bad)
		}
	}
}

func TestAlgebra(t *testing.T) {
	a, b := MustParse("0-7"), MustParse("4-11")
	if got := a.Union(b).String(); got != "0-11" {
		t.Errorf("union = %s", got)
	}
	if got := a.Intersect(b).String(); got != "4-7" {
		t.Errorf("intersect = %s", got)
	}
	if got := a.Difference(b).String(); got != "0-3" {
		t.Errorf("difference = %s", got)
	}
	if !MustParse("5-6").IsSubsetOf(a) || b.IsSubsetOf(a) {
		t.Error("IsSubsetOf wrong")
	}
	if a.Max() != 7 || (Set{}).Max() != -1 || a.Len() != 8 || !a.Contains(3) || a.Contains(8) {
		t.Error("accessors wrong")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0-3,8", "0-15:2/4", "", "1,3,5-9", "7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(set.String())
		if err != nil || !again.Equal(set) {
			t.Fatalf("Parse(String(Parse(%q))) = %v, %v; want %v", s, again, err, set)
		}
		back, err := ParseMask(set.Mask(0))
		if err != nil || !back.Equal(set) {
			t.Fatalf("mask round trip of %v = %v, %v", set, back, err)
		}
	})
}

func FuzzParseMask(f *testing.F) {
	for _, s := range []string{"f", "00000000,0000000f", "ffffffff,ffffffff,1", "80000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseMask(s)
		if err != nil {
			return
		}
		back, err := ParseMask(set.Mask(0))
		if err != nil || !back.Equal(set) {
			t.Fatalf("mask round trip of %q = %v, %v; want %v", s, back, err, set)
		}
		list, err := Parse(set.String())
		if err != nil || !list.Equal(set) {
			t.Fatalf("list round trip of %v = %v, %v", set, list, err)
		}
	})
}

// BenchmarkMaskRoundTrip: a 1024-CPU mask (rps_cpus, smp_affinity on a big
// host) to a set and back.
func BenchmarkMaskRoundTrip(b *testing.B) {
	set := MustParse("0-1023:3/4")
	mask := set.Mask(1024)
	b.ReportAllocs()
	for b.Loop() {
		s, err := ParseMask(mask)
		if err != nil || s.Mask(1024) != mask {
			b.Fatal("round trip")
		}
	}
}
