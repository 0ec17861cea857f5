package hugepages_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/hugepages"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
)

// TestTransparentReadBack: the THP mode is read back after the write. The
// fixture answers like a kernel whose write succeeds but whose selection
// is not the one asked for (left as it was, or another mode selected):
// apply must fail with a read-back error, never report the mode as set.
func TestTransparentReadBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep func(old string) string
	}{
		{"selection left as it was", func(old string) string { return old }},
		{"another mode selected", func(string) string { return "[always] madvise never" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, kw, _ := newRoot(t, "topo-1node-8cpu", "")
			cw := &fixture.ClampingWriter{W: kw.Writer, Keep: func(path, old, value string) string {
				if strings.HasSuffix(path, "/transparent_hugepage/enabled") {
					return tc.keep(old)
				}
				return value
			}}
			kw.Writer = cw // the selector logic asks for "always madvise [never]"; the kernel keeps something else
			it := item(t, planSpec(t, r, parse(t, "    transparent: never\n")), "transparent_hugepage", "enabled")
			if it.Status != plan.Drift {
				t.Fatalf("%+v", it)
			}
			err := hugepages.Module{}.Apply(context.Background(), fixture.Env(r), it.Change)
			if !errors.Is(err, module.ErrVerify) {
				t.Fatalf("Apply with the kernel keeping %v: %v, want module.ErrVerify", cw.Kept, err)
			}
			if !strings.Contains(err.Error(), `"never"`) {
				t.Errorf("error does not name the mode asked for: %v", err)
			}
		})
	}
}
