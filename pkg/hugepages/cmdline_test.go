package hugepages

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/profile"
)

// fuzzPages builds a spec.hugepages that passes validation from fuzz bytes:
// per entry of three bytes a power-of-two size from 1K to 1G, a count and a
// node (>= 128: none). Each size is either one total or per-node counts on
// distinct nodes, as validate requires.
func fuzzPages(def uint8, spec []byte) *profile.Hugepages {
	h := &profile.Hugepages{}
	if def != 0 {
		h.DefaultSize = profile.KiB << (def % 21)
	}
	perNode := map[profile.Size]bool{}
	seen := map[string]bool{}
	for i := 0; i+2 < len(spec); i += 3 {
		size := profile.KiB << (spec[i] % 21)
		p := profile.HugepagePool{Size: size, Count: int(spec[i+1]) * 37, Boot: true}
		key := size.String()
		if spec[i+2] < 128 {
			n := int(spec[i+2])
			p.Node = &n
			key += fmt.Sprintf(" node %d", n)
		}
		if pn, ok := perNode[size]; ok && (pn != (p.Node != nil) || !pn) || seen[key] {
			continue
		}
		perNode[size], seen[key] = p.Node != nil, true
		h.Pages = append(h.Pages, p)
	}
	return h
}

// FuzzBootArgs: the kernel's reading of BootArgs (parseBoot) is the
// profile's default size and pools; reordering the size groups or moving
// default_hugepagesz= does not change what equalBoot sees; and parseBoot
// takes any argument list.
func FuzzBootArgs(f *testing.F) {
	f.Add(uint8(10), []byte{11, 64, 200, 20, 4, 1, 20, 2, 0}, "hugepages=4 hugepagesz=1G hugepages=1:2,0:x")
	f.Add(uint8(0), []byte{}, "default_hugepagesz= hugepagesz=0K hugepages")
	f.Fuzz(func(t *testing.T, def uint8, spec []byte, noise string) {
		if a := strings.Fields(noise); !equalBoot(a, slices.Clone(a)) {
			t.Fatalf("%q differs from itself", noise)
		}
		h := fuzzPages(def, spec)
		args := BootArgs(h)
		want := map[uint64][]string{}
		for _, p := range h.Pages {
			c := strconv.Itoa(p.Count)
			if p.Node != nil {
				c = fmt.Sprintf("%03d:%d", *p.Node, p.Count)
			}
			want[p.Size.KB()] = append(want[p.Size.KB()], c)
		}
		st := parseBoot(args, 2048)
		if st.defaultKB != h.DefaultSize.KB() || len(st.pools) != len(want) {
			t.Fatalf("%q read as %+v", args, st)
		}
		for kb, cs := range want {
			sort.Strings(cs)
			for i, c := range cs {
				if strings.Contains(c, ":") {
					n, rest, _ := strings.Cut(c, ":")
					k, _ := strconv.Atoi(n)
					cs[i] = strconv.Itoa(k) + ":" + rest
				}
			}
			if got := st.pools[kb]; got != strings.Join(cs, ",") {
				t.Fatalf("%q: %d kB pool %q, want %q", args, kb, got, strings.Join(cs, ","))
			}
		}
		// The same reservation written differently.
		groups := args
		if h.DefaultSize != 0 {
			groups = args[1:]
		}
		var pairs [][]string
		for i := 0; i+1 < len(groups); i += 2 {
			pairs = append(pairs, groups[i:i+2])
		}
		reordered := []string{}
		for i := len(pairs) - 1; i >= 0; i-- {
			reordered = append(reordered, pairs[i]...)
		}
		if h.DefaultSize != 0 {
			reordered = append(reordered, args[0])
		}
		if !equalBoot(args, reordered) || !equalBoot(reordered, args) {
			t.Fatalf("%q and %q reserve the same pages", args, reordered)
		}
	})
}
