package nics

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/irqaffinity"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/netqueue"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// IRQBalance implements module.Module for spec.irqbalance: it keeps
// irqbalance away from the CPUs and IRQs nettune pins (ban), or stops it
// (stop), and sets the default affinity of new IRQs.
type IRQBalance struct {
	// NICs plans spec.nics to learn which IRQs are pinned; its Ethtool
	// hook is used for that.
	NICs Module
}

// Name implements module.Module.
func (IRQBalance) Name() string { return "irqbalance" }

// Configured implements module.Module.
func (IRQBalance) Configured(s *profile.Spec) bool { return s.IRQBalance != nil }

const (
	attrContent  = "content"
	attrService  = "service"
	attrDefault  = "default_smp_affinity"
	serviceLabel = "irqbalance.service"
)

func (b IRQBalance) problem(sev plan.Severity, object, remedy, format string, args ...any) plan.Problem {
	return plan.Problem{Severity: sev, Module: b.Name(), Object: object, Message: fmt.Sprintf(format, args...), Remedy: remedy}
}

// Plan implements module.Module.
func (b IRQBalance) Plan(ctx context.Context, env *module.Env, spec *profile.Spec) (*module.Result, error) {
	r := env.Root
	res := &module.Result{}
	cfg := spec.IRQBalance
	topo, err := numa.ReadOnce(ctx, r)
	if err != nil {
		return nil, err
	}
	if !cfg.DefaultAffinity.IsEmpty() {
		if it, prob := b.defaultAffinity(r, topo, cfg.DefaultAffinity); prob != nil {
			res.Problems = append(res.Problems, *prob)
		} else {
			res.Items = append(res.Items, it)
		}
	}
	mode := cfg.Mode
	if mode == "" {
		mode = "ban"
	}
	if mode == "ignore" {
		return res, nil
	}
	if !irqaffinity.Installed(r) {
		res.Problems = append(res.Problems, b.problem(plan.Warning, serviceLabel, "remove spec.irqbalance.mode or install irqbalance",
			"irqbalance is not installed (no unit or configuration file): there is nothing to %s", mode))
		return res, nil
	}
	switch mode {
	case "stop":
		it := plan.Item{Change: plan.Change{
			Module: b.Name(), Object: serviceLabel, Attribute: attrService, Action: plan.Set,
			After: irqaffinity.ServiceState{}.String(), When: plan.Live,
			Reason:  "stop irqbalance so that it never moves pinned IRQs",
			Command: liveOnly(r, "", "systemctl disable --now "+irqaffinity.Unit),
		}}
		st, err := irqaffinity.Service(ctx, r)
		switch {
		case err != nil:
			it.Status = plan.Unsupported
			it.Detail = fmt.Sprintf("cannot ask systemd: %v", err)
		default:
			it.Before = st.String()
			it.Status = plan.OK
			if st != (irqaffinity.ServiceState{}) {
				it.Status = plan.Drift
			}
		}
		res.Items = append(res.Items, it)
	case "ban", "ban-isolated":
		it, probs, err := b.banItem(ctx, env, spec, topo)
		if err != nil {
			return nil, err
		}
		res.Problems = append(res.Problems, probs...)
		if it != nil {
			res.Items = append(res.Items, *it)
		}
	}
	return res, nil
}

func (b IRQBalance) defaultAffinity(r *host.Root, topo *numa.Topology, want cpuset.Set) (plan.Item, *plan.Problem) {
	if bad := want.Difference(topo.Online); !bad.IsEmpty() {
		p := b.problem(plan.Error, irqaffinity.DefaultAffinityPath, "use online CPUs ("+topo.Online.String()+")", "defaultAffinity names CPUs %s that are not online", bad)
		return plan.Item{}, &p
	}
	raw, cur, err := netqueue.ReadMask(r, irqaffinity.DefaultAffinityPath)
	if err != nil {
		p := b.problem(plan.Error, irqaffinity.DefaultAffinityPath, "", "read %s: %v", irqaffinity.DefaultAffinityPath, err)
		return plan.Item{}, &p
	}
	mask := netqueue.Mask(want, topo.Possible.Max()+1)
	it := plan.Item{Change: plan.Change{
		Module: b.Name(), Object: irqaffinity.DefaultAffinityPath, Attribute: attrDefault, Action: plan.Set,
		Before: raw, After: mask, When: plan.Live, Path: irqaffinity.DefaultAffinityPath,
		Reason:  "IRQs requested from now on start on CPUs " + want.String(),
		Command: "echo " + mask + " > " + host.ShellQuote(r.Path(irqaffinity.DefaultAffinityPath)),
	}, Status: plan.OK}
	if !cur.Equal(want) {
		it.Status = plan.Drift
	}
	return it, nil
}

// banItem plans irqbalance's environment file: nettune's block bans the
// CPUs and IRQs the NIC plan pins (or spec.irqbalance.bannedCPUs).
func (b IRQBalance) banItem(ctx context.Context, env *module.Env, spec *profile.Spec, topo *numa.Topology) (*plan.Item, []plan.Problem, error) {
	r := env.Root
	var probs []plan.Problem
	pinned := map[int]cpuset.Set{}
	if len(spec.NICs) > 0 {
		p, err := b.NICs.plan(ctx, env, spec)
		if err != nil {
			return nil, nil, err
		}
		pinned = p.pinned
	}
	banned := cfgBanned(spec, topo)
	irqs := make([]int, 0, len(pinned))
	for irq, cpus := range pinned {
		irqs = append(irqs, irq)
		// ban-isolated (issue 12): the ban is spec.cpu's isolated CPUs,
		// not the CPUs the NIC IRQs are pinned to.
		if spec.IRQBalance.BannedCPUs.IsEmpty() && spec.IRQBalance.Mode != "ban-isolated" {
			banned = banned.Union(cpus)
		}
	}
	sort.Ints(irqs)
	if bad := banned.Difference(topo.Possible); !bad.IsEmpty() {
		probs = append(probs, b.problem(plan.Error, "bannedCPUs", "use CPUs "+topo.Possible.String(), "bannedCPUs names CPUs %s this host does not have", bad))
		return nil, probs, nil
	}
	if !topo.Online.IsEmpty() && topo.Online.Difference(banned).IsEmpty() {
		probs = append(probs, b.problem(plan.Error, "bannedCPUs", "leave at least one housekeeping CPU to irqbalance, or use mode: stop",
			"banning CPUs %s leaves irqbalance no CPU", banned))
		return nil, probs, nil
	}
	conf := irqaffinity.ConfigPath(r)
	before, err := os.ReadFile(r.Path(conf))
	exists := err == nil
	if err != nil && !host.IsNotExist(err) {
		return nil, nil, fmt.Errorf("read %s: %w", conf, err)
	}
	var after string
	if banned.IsEmpty() && len(irqs) == 0 {
		after = irqaffinity.WithoutBlock(string(before))
	} else {
		after = irqaffinity.WithBan(string(before), banned, irqs)
	}
	if a := irqaffinity.Assignments(string(before)); a["IRQBALANCE_BANNED_CPUS"] != "" {
		probs = append(probs, b.problem(plan.Warning, conf, "remove the IRQBALANCE_BANNED_CPUS line",
			"%s also sets the old mask IRQBALANCE_BANNED_CPUS=%s; irqbalance may combine it with nettune's IRQBALANCE_BANNED_CPULIST", conf, a["IRQBALANCE_BANNED_CPUS"]))
	}
	it := &plan.Item{Change: plan.Change{
		Module: b.Name(), Object: conf, Attribute: attrContent, Action: plan.Set,
		Before: string(before), After: after, When: plan.Live, Path: conf,
		Reason:  fmt.Sprintf("irqbalance keeps off CPUs %s and leaves IRQs %v where nettune pins them; restarted if it runs", cpuList(banned), irqs),
		Command: contentCommand(r, conf, after) + liveOnly(r, " && ", "systemctl try-restart "+irqaffinity.Unit),
	}, Status: plan.OK}
	if !exists {
		it.Action = plan.Create
	}
	if !bytes.Equal(before, []byte(after)) || !exists {
		it.Status = plan.Drift
	}
	if !exists && after == "" {
		return nil, probs, nil
	}
	return it, probs, nil
}

// cfgBanned is the profile's ban list, or the isolated CPUs by default.
func cfgBanned(spec *profile.Spec, topo *numa.Topology) cpuset.Set {
	if !spec.IRQBalance.BannedCPUs.IsEmpty() {
		return spec.IRQBalance.BannedCPUs
	}
	iso := topo.Isolated
	if spec.CPU != nil {
		iso = iso.Union(spec.CPU.Isolated)
	}
	return iso
}

// Apply implements module.Module.
func (b IRQBalance) Apply(ctx context.Context, env *module.Env, c plan.Change) error {
	return b.set(ctx, env, c.Attribute, c.Path, c.Action, c.After)
}

// Revert implements module.Module.
func (b IRQBalance) Revert(ctx context.Context, env *module.Env, c plan.Change) error {
	inv := c.Inverse()
	return b.set(ctx, env, inv.Attribute, inv.Path, inv.Action, inv.After)
}

func (b IRQBalance) set(ctx context.Context, env *module.Env, attr, hostPath string, action plan.Action, value string) error {
	r := env.Root
	switch attr {
	case attrDefault:
		return netqueue.WriteMask(r, hostPath, value)
	case attrService:
		st, err := irqaffinity.ParseServiceState(value)
		if err != nil {
			return err
		}
		return irqaffinity.SetService(ctx, r, st)
	case attrContent:
		p := r.Path(hostPath)
		if action == plan.Delete {
			if err := r.W.Remove(p); err != nil {
				return err
			}
		} else {
			if err := r.W.WriteFile(p, []byte(value), 0o644); err != nil {
				return err
			}
			got, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("read back %s: %w", hostPath, err)
			}
			if string(got) != value {
				return fmt.Errorf("%s: content differs after write: %w", hostPath, module.ErrVerify)
			}
		}
		return irqaffinity.Restart(ctx, r)
	}
	return fmt.Errorf("unknown irqbalance attribute %q in journal", attr)
}

// contentCommand writes a file under the root byte for byte, as apply
// does.
func contentCommand(r *host.Root, hostPath, content string) string {
	p := host.ShellQuote(r.Path(hostPath))
	if content == "" {
		return ": > " + p
	}
	var q []string
	for _, l := range strings.Split(content, "\n") {
		q = append(q, host.ShellQuote(l))
	}
	if strings.HasSuffix(content, "\n") {
		return "printf '%s\\n' " + strings.Join(q[:len(q)-1], " ") + " > " + p
	}
	return "{ printf '%s\\n' " + strings.Join(q[:len(q)-1], " ") + "; printf '%s' " + q[len(q)-1] + "; } > " + p
}

// liveOnly is a command that only the running host can carry out
// (systemctl, ethtool, ip): with another root it becomes a comment that
// names it, since apply does not run it there either.
func liveOnly(r *host.Root, sep, cmd string) string {
	if r.Live() {
		return sep + cmd
	}
	if sep != "" {
		sep = " "
	}
	return sep + "# live host only, not run under --root: " + cmd
}
