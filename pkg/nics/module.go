package nics

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/irqaffinity"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/netqueue"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Module implements module.Module for spec.nics.
type Module struct {
	// Ethtool opens the ethtool implementation for a root; nil means
	// ethtool.Open (the live adapter on "/", state files elsewhere).
	Ethtool func(*host.Root) (ethtool.Interface, error)
}

// Name implements module.Module.
func (Module) Name() string { return "nics" }

// Configured implements module.Module.
func (Module) Configured(s *profile.Spec) bool { return len(s.NICs) > 0 }

// Attributes of the changes this module makes.
const (
	attrQueues    = "rings/channels"
	attrRSS       = "rss"
	attrCoalesce  = "coalesce"
	attrFeature   = "feature:"
	attrTxQLen    = "txqueuelen"
	attrAffinity  = "smp_affinity_list"
	attrRPS       = "rps_cpus"
	attrFlowCnt   = "rps_flow_cnt"
	attrXPS       = "xps_cpus"
	attrSockFlows = "rps_sock_flow_entries"
)

// sockFlowObject is the object of the global RFS table change.
const sockFlowObject = "net.core.rps_sock_flow_entries"

// ManagedDir records, under /run (per boot, like the property it
// records), the IRQs whose affinity the kernel refused with EIO during an
// apply, so that check reports them as unsupported instead of drift.
const ManagedDir = "/run/nettune/managed-irqs"

func (m Module) open(r *host.Root) (ethtool.Interface, error) {
	if m.Ethtool != nil {
		return m.Ethtool(r)
	}
	return ethtool.Open(r)
}

// Plan implements module.Module.
func (m Module) Plan(ctx context.Context, env *module.Env, spec *profile.Spec) (*module.Result, error) {
	p, err := m.plan(ctx, env, spec)
	if err != nil {
		return nil, err
	}
	// The engine copies the items into its own plan (16,500 of them on a
	// large host are 3.6 MB): the planner's, memoized, are not handed out
	// to be changed.
	return &module.Result{Items: p.items, Problems: slices.Clone(p.problems)}, nil
}

// plan runs the planner once per plan (module.Memo): the irqbalance module
// makes its ban list from the IRQs this plan pins.
func (m Module) plan(ctx context.Context, env *module.Env, spec *profile.Spec) (*planner, error) {
	return module.Memo(ctx, fmt.Sprintf("nics.plan %p", spec), func() (*planner, error) {
		return m.runPlanner(ctx, env, spec)
	})
}

func (m Module) runPlanner(ctx context.Context, env *module.Env, spec *profile.Spec) (*planner, error) {
	p, err := m.newPlanner(ctx, env, spec)
	if err != nil {
		return nil, err
	}
	defer p.eth.Close()
	var done func()
	p.r, done = p.r.WithReadAhead()
	defer done()
	go p.readAhead()
	p.run()
	pci := map[string]string{}
	for _, n := range p.inv.NICs {
		pci[n.Name] = n.PCI
	}
	for i := range p.items {
		name, _, _ := strings.Cut(p.items[i].Object, "/")
		p.items[i].Device = pci[name]
		switch a := p.items[i].Attribute; {
		case p.items[i].Command == "":
		case a == attrQueues, a == attrRSS, a == attrCoalesce, a == attrTxQLen, strings.HasPrefix(a, attrFeature),
			a == attrRSSHash, strings.HasPrefix(a, attrFlowHash), strings.HasPrefix(a, attrNTuple):
			// Under --root apply changes nettune's emulation of the
			// interface (ethtool.Files), which no command reproduces.
			p.items[i].Command = liveOnly(env.Root, "", p.items[i].Command)
		}
	}
	return p, nil
}

// current re-resolves the interface a change is about from its PCI
// address: rebinding a device (a devices change reverted before this one)
// can give its interface another name, and another NIC the old one.
func current(r *host.Root, c plan.Change) (plan.Change, error) {
	if c.Device == "" {
		return c, nil
	}
	old, rest, _ := strings.Cut(c.Object, "/")
	dir := r.Sys("bus/pci/devices", c.Device)
	var names []string
	for _, pattern := range []string{filepath.Join(dir, "net", "*"), filepath.Join(dir, "virtio*", "net", "*")} {
		m, _ := filepath.Glob(pattern)
		names = append(names, m...)
	}
	if len(names) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return c, nil // no such PCI device under this root: keep the recorded name
		}
		return c, fmt.Errorf("NIC %s (%s) has no kernel interface now: it is bound to a user-space driver; give it back to its kernel driver first (nettune unbind %s)", old, c.Device, c.Device)
	}
	cur := filepath.Base(names[0])
	if cur == old {
		return c, nil
	}
	c.Object = cur
	if rest != "" {
		c.Object += "/" + rest
	}
	c.Path = strings.Replace(c.Path, "/sys/class/net/"+old+"/", "/sys/class/net/"+cur+"/", 1)
	return c, nil
}

// Apply implements module.Module.
func (m Module) Apply(ctx context.Context, env *module.Env, c plan.Change) error {
	return m.set(ctx, env, c, c.After, false)
}

// Revert implements module.Module.
func (m Module) Revert(ctx context.Context, env *module.Env, c plan.Change) error {
	return m.set(ctx, env, c, c.Before, true)
}

// set brings one change's object to value (After on apply, Before on
// revert) and reads it back.
func (m Module) set(ctx context.Context, env *module.Env, c plan.Change, value string, revert bool) error {
	r := env.Root
	c, err := current(r, c)
	if err != nil {
		return err
	}
	switch {
	case c.Attribute == attrAffinity:
		if revert && irqGone(r, c) {
			// The driver freed the vector (the device was rebound or its
			// queues re-created): the IRQ that replaced it starts from the
			// default affinity, which is what there is to go back to.
			if env.Log != nil {
				env.Log.Info("IRQ no longer belongs to the NIC; nothing to restore", "object", c.Object, "path", c.Path)
			}
			return nil
		}
		return setAffinity(env, c, value, revert)
	case c.Attribute == attrRPS || c.Attribute == attrXPS:
		return netqueue.WriteMask(r, c.Path, value)
	case c.Attribute == attrFlowCnt || c.Attribute == attrSockFlows:
		return netqueue.WriteCount(r, c.Path, value)
	case isNAPIAttr(c.Attribute):
		return setNAPI(r, c, value)
	}
	eth, err := m.open(r)
	if err != nil {
		return err
	}
	defer eth.Close()
	ifname := c.Object
	switch {
	case c.Attribute == attrQueues:
		return setQueues(eth, ifname, value, revert)
	case c.Attribute == attrRSS:
		return setRSS(eth, ifname, value, revert)
	case c.Attribute == attrCoalesce:
		return setCoalesce(eth, ifname, value)
	case strings.HasPrefix(c.Attribute, attrFeature):
		return setFeature(eth, ifname, strings.TrimPrefix(c.Attribute, attrFeature), value)
	case c.Attribute == attrTxQLen:
		return setTxQueueLen(eth, ifname, value)
	case c.Attribute == attrRSSHash:
		return setRSSHash(eth, ifname, value)
	case strings.HasPrefix(c.Attribute, attrFlowHash):
		return setFlowHash(eth, ifname, strings.TrimPrefix(c.Attribute, attrFlowHash), value)
	case strings.HasPrefix(c.Attribute, attrNTuple):
		return setNTuple(eth, ifname, c.Attribute, value)
	}
	return fmt.Errorf("unknown nics attribute %q in journal", c.Attribute)
}

func verify(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, module.ErrVerify)...)
}

// setQueues sets ring sizes, then channel counts (channels, then rings,
// on revert), each with one ioctl and only when it differs: the driver
// resets the link for each, so they are issued back to back in one change
// instead of separate ones with other work between them.
func setQueues(eth ethtool.Interface, ifname, value string, revert bool) error {
	want, err := parseKV(queueKeys, value)
	if err != nil {
		return err
	}
	doRings := func() error {
		if !hasRingKeys(want) {
			return nil
		}
		cur, err := eth.Rings(ifname)
		if err != nil {
			return err
		}
		target := withRings(cur, want)
		if target == cur {
			return nil
		}
		if err := eth.SetRings(ifname, target.RX, target.TX); err != nil {
			return err
		}
		got, err := eth.Rings(ifname)
		if err != nil {
			return err
		}
		if got.RX != target.RX || got.TX != target.TX {
			return verify("%s: set rings rx %d tx %d, reads back rx %d tx %d", ifname, target.RX, target.TX, got.RX, got.TX)
		}
		return nil
	}
	doChannels := func() error {
		if !hasChannelKeys(want) {
			return nil
		}
		cur, err := eth.Channels(ifname)
		if err != nil {
			return err
		}
		target := withChannels(cur, want)
		if target == cur {
			return nil
		}
		if err := eth.SetChannels(ifname, target); err != nil {
			return err
		}
		got, err := eth.Channels(ifname)
		if err != nil {
			return err
		}
		if withChannels(got, want) != got {
			return verify("%s: set channels %s, reads back combined %d rx %d tx %d other %d", ifname, formatKV(queueKeys, want), got.Combined, got.RX, got.TX, got.Other)
		}
		return nil
	}
	steps := []func() error{doRings, doChannels}
	if revert {
		steps = []func() error{doChannels, doRings}
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// setRSS writes the RSS table. On revert, a prior table that is the
// driver's default (even over all the rx queues there are) is given back
// to the driver (ETHTOOL_SRXFHINDIR with size 0) instead of being written
// entry by entry: a written table counts as user-set, and the kernel then
// refuses a later `ethtool -L … combined 1`.
func setRSS(eth ethtool.Interface, ifname, value string, revert bool) error {
	cur, err := eth.Indir(ifname)
	if err != nil {
		return err
	}
	want, err := parseIndir(value, len(cur))
	if err != nil {
		return err
	}
	if revert {
		if done, err := giveTableBack(eth, ifname, want); done || err != nil {
			return err
		}
	}
	switch {
	case ethtool.FormatIndir(cur) == ethtool.FormatIndir(want):
		return nil
	default:
		if err := eth.SetIndir(ifname, want); err != nil {
			return err
		}
	}
	got, err := eth.Indir(ifname)
	if err != nil {
		return err
	}
	if ethtool.FormatIndir(got) != ethtool.FormatIndir(want) {
		return verify("%s: RSS table reads back %s, want %s", ifname, formatIndir(got), value)
	}
	return nil
}

// giveTableBack handles the revert of a table that was balanced over k
// queues before nettune: the shape of a driver's own table, in whatever
// order the driver fills it (round robin for most, runs for igb). Only
// the driver can tell whether it was its own, so the table is handed back
// to it (ETHTOOL_SRXFHINDIR with size 0) and read:
//   - with k rx queues now, the driver's table equal to the prior one
//     means the prior one was the driver's: done, and not user-set;
//     otherwise the prior table is written entry by entry (done false);
//   - with another rx queue count (the revert of a channel change comes
//     next), the driver's table stays: the driver re-spreads it when the
//     channels go back to k.
func giveTableBack(eth ethtool.Interface, ifname string, prior []uint32) (bool, error) {
	k := ethtool.BalancedQueues(prior)
	if k == 0 {
		return false, nil
	}
	c, err := eth.Channels(ifname)
	if err != nil {
		return false, nil
	}
	if err := eth.ResetIndir(ifname); err != nil {
		if errors.Is(err, ethtool.ErrNotSupported) {
			return false, nil
		}
		return false, err
	}
	if int(c.RXQueues()) != k {
		return true, nil
	}
	got, err := eth.Indir(ifname)
	if err != nil {
		return false, err
	}
	return ethtool.FormatIndir(got) == ethtool.FormatIndir(prior), nil
}

func setCoalesce(eth ethtool.Interface, ifname, value string) error {
	want, err := parseKV(coalesceKeys, value)
	if err != nil {
		return err
	}
	cur, err := eth.Coalesce(ifname)
	if err != nil {
		return err
	}
	if equalKV(coalesceValues(want, cur), want) {
		return nil
	}
	if err := eth.SetCoalesce(ifname, withCoalesce(cur, want)); err != nil {
		return err
	}
	got, err := eth.Coalesce(ifname)
	if err != nil {
		return err
	}
	if g := coalesceValues(want, got); !equalKV(g, want) {
		return verify("%s: set coalescing %s, reads back %s", ifname, value, formatKV(coalesceKeys, g))
	}
	return nil
}

func setFeature(eth ethtool.Interface, ifname, name, value string) error {
	on := value == "on"
	if !on && value != "off" {
		return fmt.Errorf("feature %s value %q is not on or off", name, value)
	}
	fs, err := eth.Features(ifname)
	if err != nil {
		return err
	}
	if f, ok := fs[name]; ok && f.Active == on {
		return nil
	}
	if err := eth.SetFeatures(ifname, map[string]bool{name: on}); err != nil {
		return err
	}
	fs, err = eth.Features(ifname)
	if err != nil {
		return err
	}
	if fs[name].Active != on {
		return verify("%s: requested %s %s, the kernel keeps it %s (a feature it depends on may be off)", ifname, name, value, onOff(fs[name].Active))
	}
	return nil
}

func setTxQueueLen(eth ethtool.Interface, ifname, value string) error {
	n, err := strconv.Atoi(value)
	if err != nil {
		return fmt.Errorf("txqueuelen %q is not a number", value)
	}
	if cur, err := eth.TxQueueLen(ifname); err == nil && cur == n {
		return nil
	}
	if err := eth.SetTxQueueLen(ifname, n); err != nil {
		return err
	}
	got, err := eth.TxQueueLen(ifname)
	if err != nil {
		return err
	}
	if got != n {
		return verify("%s: set txqueuelen %d, reads back %d", ifname, n, got)
	}
	return nil
}

// setAffinity pins one IRQ. An IRQ the kernel manages refuses with EIO:
// that is reported and recorded under ManagedDir, not fatal; its revert
// has nothing to undo.
func setAffinity(env *module.Env, c plan.Change, value string, revert bool) error {
	r := env.Root
	irq, err := irqOfPath(c.Path)
	if err != nil {
		return err
	}
	marker := r.Path(filepath.Join(ManagedDir, strconv.Itoa(irq)))
	a, err := irqaffinity.Write(r, irq, value)
	switch {
	case errors.Is(err, irqaffinity.ErrManaged):
		if revert {
			return removeMarker(r, marker)
		}
		if env.Log != nil {
			env.Log.Warn("IRQ affinity left to the kernel", "object", c.Object, "irq", irq, "error", err)
		}
		if werr := r.W.WriteFile(marker, []byte(c.Object+"\n"), 0o644); werr != nil {
			return werr
		}
		// Not applied: the engine reports it as unsupported (the marker
		// makes later plans and checks say so too).
		return fmt.Errorf("irq %d: %w", irq, err)
	case errors.Is(err, irqaffinity.ErrVerify):
		return fmt.Errorf("%w: %w", err, module.ErrVerify)
	case err != nil:
		return err
	}
	if a.Pending() && env.Log != nil {
		env.Log.Info("IRQ moves at its next interrupt", "irq", irq, "requested", a.Requested.String(), "effective", a.Effective.String())
	}
	if revert {
		return removeMarker(r, marker)
	}
	return nil
}

// removeMarker deletes a managed-IRQ marker and the directories nettune
// created for it when they are empty.
func removeMarker(r *host.Root, marker string) error {
	if !r.Exists(marker) {
		return nil
	}
	if err := r.W.Remove(marker); err != nil {
		return err
	}
	for _, d := range []string{ManagedDir, filepath.Dir(ManagedDir)} {
		// Remove refuses a directory that is not empty: that is fine.
		r.W.Remove(r.Path(d))
	}
	return nil
}

// irqGone reports whether the IRQ of an affinity change is no longer one of
// its NIC's MSI vectors (only knowable for a PCI NIC whose device exists).
func irqGone(r *host.Root, c plan.Change) bool {
	if c.Device == "" {
		return false
	}
	irq, err := irqOfPath(c.Path)
	if err != nil {
		return false
	}
	msi := r.Sys("bus/pci/devices", c.Device, "msi_irqs")
	if _, err := os.Stat(msi); err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(msi, strconv.Itoa(irq)))
	return err != nil
}

func irqOfPath(p string) (int, error) {
	var irq int
	if _, err := fmt.Sscanf(p, "/proc/irq/%d/smp_affinity_list", &irq); err != nil {
		return 0, fmt.Errorf("change path %q is not an IRQ affinity file", p)
	}
	return irq, nil
}

// cpuList renders a set for messages ("none" when empty).
func cpuList(s cpuset.Set) string {
	if s.IsEmpty() {
		return "none"
	}
	return s.String()
}
