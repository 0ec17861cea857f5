package isolcpu

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

const (
	attrAmdPstate = "amd_pstate"
	// AmdPstateStatus is the amd_pstate driver's mode switch: it reads
	// active, passive, guided or disable, and a write of one of the first
	// three switches the driver's mode at once (Linux
	// Documentation/admin-guide/pm/amd-pstate.rst, "status").
	AmdPstateStatus = "/sys/devices/system/cpu/amd_pstate/status"
)

// amdPstateItem plans the amd_pstate mode. A host without the file (an
// Intel CPU, a kernel before 6.3 or one booted with amd_pstate=disable
// before 6.5, a virtual machine without CPPC) gets an unsupported item
// and a warning; nothing is written.
func amdPstateItem(r *host.Root, want string) (plan.Item, []plan.Problem, error) {
	p := r.Sys("devices/system/cpu/amd_pstate/status")
	it := plan.Item{Change: plan.Change{
		Module: "cpu", Object: "amd_pstate", Attribute: attrAmdPstate, Action: plan.Set,
		After: want, When: plan.Live, Reason: "spec.cpu.power.amdPstate",
	}}
	cur, err := r.ReadString(p)
	if errors.Is(err, fs.ErrNotExist) {
		it.Status = plan.Unsupported
		it.Detail = AmdPstateStatus + " does not exist: the amd_pstate driver is not running"
		return it, []plan.Problem{{Severity: plan.Warning, Module: "cpu", Object: "power.amdPstate",
			Message: fmt.Sprintf("%s does not exist: amdPstate %s cannot be set", AmdPstateStatus, want),
			Remedy:  "on an AMD CPU with CPPC (the cppc flag in /proc/cpuinfo) use a kernel with amd_pstate (6.3 or later) and boot without amd_pstate=disable; in a virtual machine the host controls the frequency"}}, nil
	}
	if err != nil {
		return it, nil, fmt.Errorf("read %s: %w", AmdPstateStatus, err)
	}
	it.Before = cur
	it.Path = r.HostPath(p)
	it.Command = "echo " + host.ShellQuote(want) + " > " + host.ShellQuote(p)
	it.Status = plan.OK
	if cur != want {
		it.Status = plan.Drift
		it.Reason += fmt.Sprintf(" (the driver's mode: %s now)", cur)
	}
	return it, nil, nil
}
