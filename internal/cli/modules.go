package cli

import (
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/housekeeping"
	"github.com/nettune/nettune/pkg/hugepages"
	"github.com/nettune/nettune/pkg/isolcpu"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/nics"
	"github.com/nettune/nettune/pkg/sriov"
	"github.com/nettune/nettune/pkg/sysctl"
)

// Modules is the one list of nettune's modules, in apply order: kernel
// parameters first, then host memory and CPUs, then NICs and IRQs, then
// device binding. It lives at the composition root so that the engine
// depends on the module contract only. A section of the profile with no
// module here is reported as "not implemented yet" by the engine's Plan.
func Modules() []module.Module {
	return []module.Module{
		sysctl.Module{},
		isolcpu.Module{},
		housekeeping.Module{},
		hugepages.Module{},
		nics.Module{}, nics.IRQBalance{},
		// SR-IOV before devices: VFs exist before spec.devices binds them.
		sriov.Module{},
		devbind.Module{Journal: engine.JournalChanges},
		dataplane.Module{},
	}
}
