package numa

import (
	"context"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
)

// ReadOnce is Read, once per plan (module.Memo): the modules of one plan
// and its diagnostics share the topology. The result must not be changed.
func ReadOnce(ctx context.Context, r *host.Root) (*Topology, error) {
	return module.Memo(ctx, "numa.Read "+r.Path("/"), func() (*Topology, error) { return Read(r) })
}
