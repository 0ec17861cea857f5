package sriov

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/devbind"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Name is the module name, equal to the profile section.
const Name = "sriov"

// Attributes of the changes this module makes.
const (
	AttrNumVFs    = "sriov_numvfs"
	AttrAutoprobe = "sriov_drivers_autoprobe"
	AttrMAC       = "vf-mac"
	AttrVLAN      = "vf-vlan"
	AttrSpoof     = "vf-spoofchk"
	AttrTrust     = "vf-trust"
	AttrLinkState = "vf-link-state"
	AttrRate      = "vf-rate"
)

// ErrInUse is wrapped when VFs would be destroyed while in use.
var ErrInUse = errors.New("VFs in use")

// Module implements module.Module for spec.sriov.
type Module struct {
	// Links opens the VF netlink interface of a root; OpenLinks when nil.
	Links func(*host.Root) Links
	// Network reads interfaces and addresses for the in-use guard;
	// devbind.NetworkFor when nil.
	Network func(*host.Root) devbind.NetworkSource
}

// Name implements module.Module.
func (Module) Name() string { return Name }

// Configured implements module.Module.
func (Module) Configured(s *profile.Spec) bool { return len(s.SRIOV) > 0 }

func (m Module) links(r *host.Root) Links {
	if m.Links != nil {
		return m.Links(r)
	}
	return OpenLinks(r)
}

func (m Module) network(r *host.Root) devbind.NetworkSource {
	if m.Network != nil {
		return m.Network(r)
	}
	return devbind.NetworkFor(r)
}

// vfObject names VF n of pf in changes.
func vfObject(pf string, n int) string { return fmt.Sprintf("%s vf %d", pf, n) }

func parseVFObject(o string) (string, int, error) {
	pf, n, ok := strings.Cut(o, " vf ")
	i, err := strconv.Atoi(n)
	if !ok || err != nil {
		return "", 0, fmt.Errorf("bad VF object %q in journal", o)
	}
	return pf, i, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// values renders the settings of an observed VF as change values.
func values(v VF) map[string]string {
	return map[string]string{
		AttrMAC:       strings.ToLower(v.MAC),
		AttrVLAN:      fmt.Sprintf("vlan=%d qos=%d", v.VLAN, v.QoS),
		AttrSpoof:     onOff(v.SpoofCheck),
		AttrTrust:     onOff(v.Trust),
		AttrLinkState: v.LinkState,
		AttrRate:      fmt.Sprintf("min=%d max=%d", v.MinTxRate, v.MaxTxRate),
	}
}

// wanted renders the settings a profile asks of a VF; cur fills in what
// a partial setting (one rate, a VLAN without QoS) leaves as it is.
func wanted(s profile.SRIOVVF, cur VF) map[string]string {
	out := map[string]string{}
	if s.MAC != "" {
		hw, _ := net.ParseMAC(s.MAC)
		out[AttrMAC] = hw.String()
	}
	if s.VLAN != nil {
		q := 0
		if s.QoS != nil {
			q = *s.QoS
		}
		out[AttrVLAN] = fmt.Sprintf("vlan=%d qos=%d", *s.VLAN, q)
	}
	if s.SpoofCheck != nil {
		out[AttrSpoof] = onOff(*s.SpoofCheck)
	}
	if s.Trust != nil {
		out[AttrTrust] = onOff(*s.Trust)
	}
	if s.LinkState != "" {
		out[AttrLinkState] = s.LinkState
	}
	if s.MinTxRate != nil || s.MaxTxRate != nil {
		lo, hi := int(cur.MinTxRate), int(cur.MaxTxRate)
		if s.MinTxRate != nil {
			lo = *s.MinTxRate
		}
		if s.MaxTxRate != nil {
			hi = *s.MaxTxRate
		}
		out[AttrRate] = fmt.Sprintf("min=%d max=%d", lo, hi)
	}
	return out
}

var vfAttrs = []string{AttrMAC, AttrVLAN, AttrSpoof, AttrTrust, AttrLinkState, AttrRate}

// Plan implements module.Module.
func (m Module) Plan(ctx context.Context, env *module.Env, spec *profile.Spec) (*module.Result, error) {
	r := env.Root
	res := &module.Result{}
	fail := func(obj, msg, remedy string) {
		res.Problems = append(res.Problems, plan.Problem{Severity: plan.Error, Module: Name, Object: obj, Message: msg, Remedy: remedy})
	}
	for i, e := range spec.SRIOV {
		at := fmt.Sprintf("sriov[%d]", i)
		pf, err := ObservePF(r, e.PF)
		if err != nil {
			capable := Capable(r)
			remedy := "this host has no SR-IOV capable device"
			if len(capable) > 0 {
				remedy = "name one of the SR-IOV capable devices: " + strings.Join(capable, ", ")
			}
			fail(at+"/pf", err.Error(), remedy)
			continue
		}
		if e.NumVFs > pf.Total {
			fail(at+"/numVFs", fmt.Sprintf("numVFs %d is above the %d VFs %s offers (sriov_totalvfs); the kernel refuses it (ERANGE)", e.NumVFs, pf.Total, pf.Address),
				fmt.Sprintf("set numVFs between 0 and %d", pf.Total))
			continue
		}
		if e.DriversAutoprobe != nil {
			want := "0"
			if *e.DriversAutoprobe {
				want = "1"
			}
			if pf.Autoprobe == "" {
				fail(at+"/driversAutoprobe", fmt.Sprintf("%s has no sriov_drivers_autoprobe (kernel before 4.12)", pf.Address), "leave driversAutoprobe out")
			} else {
				res.Items = append(res.Items, item(plan.Change{Object: pf.Address, Attribute: AttrAutoprobe, Action: plan.Set, Before: pf.Autoprobe, After: want,
					Path: attrPath(pf.Address, AttrAutoprobe), Reason: "decide whether new VFs get their kernel driver",
					Command: fmt.Sprintf("echo %s > %s", want, attrPath(pf.Address, AttrAutoprobe))}, ""))
			}
		}
		nvf := plan.Change{Object: pf.Address, Attribute: AttrNumVFs, Action: plan.Set, Before: strconv.Itoa(pf.Num), After: strconv.Itoa(e.NumVFs),
			Path: attrPath(pf.Address, AttrNumVFs), Reason: fmt.Sprintf("profile asks for %d VFs on %s", e.NumVFs, pf.Address),
			Command: fmt.Sprintf("echo %d > %s", e.NumVFs, attrPath(pf.Address, AttrNumVFs))}
		detail := ""
		if throughZero(pf.Num, e.NumVFs) {
			nvf.Command = fmt.Sprintf("echo 0 > %s && echo %d > %[1]s", attrPath(pf.Address, AttrNumVFs), e.NumVFs)
			detail = fmt.Sprintf("through 0: the kernel refuses changing %d VFs to %d (EBUSY), so all %d are destroyed and %d created", pf.Num, e.NumVFs, pf.Num, e.NumVFs)
		}
		if gone := removed(pf.Num, e.NumVFs); len(gone) > 0 {
			if busy := inUse(ctx, r, m.network(r), pf.Address, gone); len(busy) > 0 {
				fail(at+"/numVFs", fmt.Sprintf("changing %s from %d to %d VFs would destroy VFs in use: %s", pf.Address, pf.Num, e.NumVFs, strings.Join(busy, "; ")),
					"stop what uses them (the forwarder, the DPDK application, the interface's addresses) first, or keep numVFs at "+strconv.Itoa(pf.Num))
			}
		}
		res.Items = append(res.Items, item(nvf, detail))
		if len(e.VFs) == 0 {
			continue
		}
		if pf.Ifname == "" {
			fail(at+"/vfs", fmt.Sprintf("%s has no network interface (driver %q): VF settings go through the PF's netlink interface", pf.Address, pf.Driver),
				"keep the PF on its kernel driver (not in spec.devices), or leave vfs out")
			continue
		}
		var observed []VF
		if pf.Num > 0 && !throughZero(pf.Num, e.NumVFs) {
			if observed, err = m.links(r).VFs(pf.Ifname); err != nil {
				return nil, fmt.Errorf("read the VFs of %s: %w", pf.Ifname, err)
			}
		}
		for _, s := range e.VFs {
			var cur *VF
			for k := range observed {
				if observed[k].Index == s.Index && s.Index < pf.Num {
					cur = &observed[k]
				}
			}
			base := VF{}
			if cur != nil {
				base = *cur
			}
			want := wanted(s, base)
			for _, a := range vfAttrs {
				after, ok := want[a]
				if !ok {
					continue
				}
				c := plan.Change{Object: vfObject(pf.Address, s.Index), Attribute: a, Action: plan.Create, After: after,
					Device: pf.Ifname, Reason: fmt.Sprintf("profile sets VF %d of %s", s.Index, pf.Address), Command: ipCommand(pf.Ifname, s.Index, a, after)}
				detail := ""
				if cur != nil {
					c.Action, c.Before = plan.Set, values(*cur)[a]
				} else {
					detail = fmt.Sprintf("pending on creation: VF %d of %s is created by this apply", s.Index, pf.Address)
				}
				res.Items = append(res.Items, item(c, detail))
			}
		}
	}
	return res, nil
}

func item(c plan.Change, detail string) plan.Item {
	c.Module, c.When = Name, plan.Live
	it := plan.Item{Change: c, Status: plan.OK}
	if c.Action == plan.Create || c.Before != c.After {
		it.Status, it.Detail = plan.Drift, detail
	}
	return it
}

// ipCommand is the ip-link(8) equivalent of a VF setting.
func ipCommand(pf string, vf int, attr, value string) string {
	base := fmt.Sprintf("ip link set %s vf %d ", pf, vf)
	switch attr {
	case AttrMAC:
		return base + "mac " + value
	case AttrVLAN:
		f := strings.NewReplacer("vlan=", "vlan ", "qos=", "qos ").Replace(value)
		return base + f
	case AttrSpoof:
		return base + "spoofchk " + value
	case AttrTrust:
		return base + "trust " + value
	case AttrLinkState:
		return base + "state " + value
	case AttrRate:
		return base + strings.NewReplacer("min=", "min_tx_rate ", "max=", "max_tx_rate ").Replace(value)
	}
	return ""
}

// Apply implements module.Module.
func (m Module) Apply(ctx context.Context, env *module.Env, c plan.Change) error {
	return m.set(ctx, env, c, c.After, false)
}

// Revert implements module.Module. Removing VFs is refused while one is in
// use; a VF setting made on a VF this apply created needs no revert (the
// VF goes away with the count).
func (m Module) Revert(ctx context.Context, env *module.Env, c plan.Change) error {
	return m.set(ctx, env, c, c.Before, true)
}

func (m Module) set(ctx context.Context, env *module.Env, c plan.Change, value string, revert bool) error {
	r := env.Root
	switch c.Attribute {
	case AttrAutoprobe:
		return setAutoprobe(r, c.Object, value)
	case AttrNumVFs:
		want, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("bad VF count %q", value)
		}
		cur, err := readInt(r, attrPath(c.Object, AttrNumVFs))
		if err != nil {
			return err
		}
		if busy := inUse(ctx, r, m.network(r), c.Object, removed(cur, want)); len(busy) > 0 {
			return fmt.Errorf("refusing to set %s from %d to %d VFs: %w: %s; stop what uses them and run it again", c.Object, cur, want, ErrInUse, strings.Join(busy, "; "))
		}
		return setNumVFs(r, c.Object, want)
	}
	pf, n, err := parseVFObject(c.Object)
	if err != nil {
		return err
	}
	if value == "" {
		// Revert of a setting made on a VF created in the same apply.
		return nil
	}
	ifname := pfIfname(r, pf, c.Device)
	if ifname == "" {
		if revert && devbind.VirtFn(r, pf, n) == "" {
			return nil
		}
		return fmt.Errorf("%s has no network interface to set VF %d through", pf, n)
	}
	if revert && devbind.VirtFn(r, pf, n) == "" {
		return nil
	}
	if err := setVF(m.links(r), ifname, n, c.Attribute, value); err != nil {
		return fmt.Errorf("%s: %w", ipCommand(ifname, n, c.Attribute, value), err)
	}
	got, absent, err := m.current(r, c)
	if err != nil {
		return err
	}
	if absent || got != value {
		return fmt.Errorf("%s: VF %d of %s reads %q: %w", ipCommand(ifname, n, c.Attribute, value), n, ifname, got, module.ErrVerify)
	}
	return nil
}

// pfIfname finds the PF's interface: the one the plan saw when it still
// exists, else the PF's current one (renamed since).
func pfIfname(r *host.Root, pf, planned string) string {
	if planned != "" && r.Exists(r.Path(attrPath(pf, filepath.Join("net", planned)))) {
		return planned
	}
	if ents, err := os.ReadDir(r.Path(attrPath(pf, "net"))); err == nil && len(ents) > 0 {
		return ents[0].Name()
	}
	return ""
}

func setVF(l Links, ifname string, n int, attr, value string) error {
	switch attr {
	case AttrMAC:
		hw, err := net.ParseMAC(value)
		if err != nil {
			return err
		}
		return l.SetMAC(ifname, n, hw)
	case AttrVLAN:
		var vlan, qos int
		if _, err := fmt.Sscanf(value, "vlan=%d qos=%d", &vlan, &qos); err != nil {
			return fmt.Errorf("bad VLAN value %q: %w", value, err)
		}
		return l.SetVLAN(ifname, n, vlan, qos)
	case AttrSpoof:
		return l.SetSpoofCheck(ifname, n, value == "on")
	case AttrTrust:
		return l.SetTrust(ifname, n, value == "on")
	case AttrLinkState:
		return l.SetLinkState(ifname, n, value)
	case AttrRate:
		var lo, hi int
		if _, err := fmt.Sscanf(value, "min=%d max=%d", &lo, &hi); err != nil {
			return fmt.Errorf("bad rate value %q: %w", value, err)
		}
		return l.SetRate(ifname, n, lo, hi)
	}
	return fmt.Errorf("unknown sriov attribute %q in journal", attr)
}

// Current implements module.Observer.
func (m Module) Current(_ context.Context, env *module.Env, c plan.Change) (string, bool, error) {
	return m.current(env.Root, c)
}

func (m Module) current(r *host.Root, c plan.Change) (string, bool, error) {
	switch c.Attribute {
	case AttrAutoprobe, AttrNumVFs:
		s, err := r.ReadString(r.Path(attrPath(c.Object, c.Attribute)))
		if err != nil {
			if host.IsNotExist(err) {
				return "", true, nil
			}
			return "", false, err
		}
		return strings.TrimSpace(s), false, nil
	}
	pf, n, err := parseVFObject(c.Object)
	if err != nil {
		return "", false, err
	}
	ifname := pfIfname(r, pf, c.Device)
	if ifname == "" || devbind.VirtFn(r, pf, n) == "" {
		return "", true, nil
	}
	vfs, err := m.links(r).VFs(ifname)
	if err != nil {
		return "", false, err
	}
	for _, v := range vfs {
		if v.Index == n {
			return values(v)[c.Attribute], false, nil
		}
	}
	return "", true, nil
}
