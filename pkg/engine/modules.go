package engine

import (
	"github.com/nettune/nettune/pkg/dataplane"
	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/hugepages"
	"github.com/nettune/nettune/pkg/isolcpus"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/nics"
	"github.com/nettune/nettune/pkg/sysctl"
)

// Modules returns every module nettune has, in apply order: kernel
// parameters first, then host memory and CPUs, then NICs and IRQs, then
// device binding. A section of the profile with no module here is reported
// as "not implemented yet" by Plan.
func Modules() []module.Module {
	return []module.Module{
		sysctl.Module{},
		isolcpus.Module{},
		hugepages.Module{},
		nics.Module{}, nics.IRQBalance{},
		devbind.Module{Journal: JournalChanges},
		dataplane.Module{},
	}
}
