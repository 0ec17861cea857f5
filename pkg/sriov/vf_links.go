package sriov

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/nettune/nettune/pkg/host"
	"github.com/vishvananda/netlink"
)

// VF is one VF's settings as the PF reports them in IFLA_VFINFO_LIST.
type VF struct {
	Index      int    `json:"index"`
	MAC        string `json:"mac"`
	VLAN       int    `json:"vlan"`
	QoS        int    `json:"qos"`
	SpoofCheck bool   `json:"spoofCheck"`
	Trust      bool   `json:"trust"`
	// LinkState is auto, enable or disable.
	LinkState string `json:"linkState"`
	MinTxRate uint32 `json:"minTxRate"`
	MaxTxRate uint32 `json:"maxTxRate"`
}

// Links reads and sets VF settings through a PF's network interface.
type Links interface {
	// VFs lists the VFs the PF reports, by index.
	VFs(pf string) ([]VF, error)
	SetMAC(pf string, vf int, mac net.HardwareAddr) error
	SetVLAN(pf string, vf, vlan, qos int) error
	SetSpoofCheck(pf string, vf int, on bool) error
	SetTrust(pf string, vf int, on bool) error
	SetLinkState(pf string, vf int, state string) error
	SetRate(pf string, vf int, minMbps, maxMbps int) error
}

// Link states as ip-link(8) names them, in IFLA_VF_LINK_STATE order.
var linkStates = []string{"auto", "enable", "disable"}

func linkStateName(v uint32) string {
	if int(v) < len(linkStates) {
		return linkStates[v]
	}
	return fmt.Sprintf("%d", v)
}

func linkStateValue(s string) (uint32, error) {
	for i, n := range linkStates {
		if n == s {
			return uint32(i), nil
		}
	}
	return 0, fmt.Errorf("unknown VF link state %q (auto, enable, disable)", s)
}

// OpenLinks returns the Links of a root: rtnetlink on the live host, the
// captured state files (StateDir) under any other root.
func OpenLinks(r *host.Root) Links {
	if r.Live() {
		return Netlink{}
	}
	return Files{Root: r}
}

// Netlink is Links over rtnetlink (vishvananda/netlink).
type Netlink struct{}

func link(pf string) (netlink.Link, error) {
	l, err := netlink.LinkByName(pf)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", pf, err)
	}
	return l, nil
}

// VFs implements Links.
func (Netlink) VFs(pf string) ([]VF, error) {
	l, err := link(pf)
	if err != nil {
		return nil, err
	}
	var out []VF
	for _, v := range l.Attrs().Vfs {
		out = append(out, VF{Index: v.ID, MAC: v.Mac.String(), VLAN: v.Vlan, QoS: v.Qos, SpoofCheck: v.Spoofchk,
			Trust: v.Trust == 1, LinkState: linkStateName(v.LinkState), MinTxRate: v.MinTxRate, MaxTxRate: v.MaxTxRate})
	}
	return out, nil
}

func nl(pf string, f func(netlink.Link) error) error {
	l, err := link(pf)
	if err != nil {
		return err
	}
	return f(l)
}

// SetMAC implements Links.
func (Netlink) SetMAC(pf string, vf int, mac net.HardwareAddr) error {
	return nl(pf, func(l netlink.Link) error { return netlink.LinkSetVfHardwareAddr(l, vf, mac) })
}

// SetVLAN implements Links.
func (Netlink) SetVLAN(pf string, vf, vlan, qos int) error {
	return nl(pf, func(l netlink.Link) error { return netlink.LinkSetVfVlanQos(l, vf, vlan, qos) })
}

// SetSpoofCheck implements Links.
func (Netlink) SetSpoofCheck(pf string, vf int, on bool) error {
	return nl(pf, func(l netlink.Link) error { return netlink.LinkSetVfSpoofchk(l, vf, on) })
}

// SetTrust implements Links.
func (Netlink) SetTrust(pf string, vf int, on bool) error {
	return nl(pf, func(l netlink.Link) error { return netlink.LinkSetVfTrust(l, vf, on) })
}

// SetLinkState implements Links.
func (Netlink) SetLinkState(pf string, vf int, state string) error {
	v, err := linkStateValue(state)
	if err != nil {
		return err
	}
	return nl(pf, func(l netlink.Link) error { return netlink.LinkSetVfState(l, vf, v) })
}

// SetRate implements Links.
func (Netlink) SetRate(pf string, vf int, minMbps, maxMbps int) error {
	return nl(pf, func(l netlink.Link) error { return netlink.LinkSetVfRate(l, vf, minMbps, maxMbps) })
}

// StateDir holds, under an offline root, each PF's VF list as the kernel
// reported it (<pf-interface>.json, a JSON array of VF), as snapshots and
// fixtures capture it.
const StateDir = "/var/lib/nettune-snapshot/sriov"

// Files is Links over the state files of an offline root.
type Files struct{ Root *host.Root }

func (f Files) path(pf string) string { return f.Root.Path(filepath.Join(StateDir, pf+".json")) }

// VFs implements Links.
func (f Files) VFs(pf string) ([]VF, error) {
	b, err := os.ReadFile(f.path(pf))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var vfs []VF
	if err := dec.Decode(&vfs); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path(pf), err)
	}
	return vfs, nil
}

func (f Files) update(pf string, vf int, fn func(*VF)) error {
	vfs, err := f.VFs(pf)
	if err != nil {
		return err
	}
	for i := range vfs {
		if vfs[i].Index == vf {
			fn(&vfs[i])
			b, _ := json.MarshalIndent(vfs, "", "  ")
			return f.Root.W.WriteFile(f.path(pf), append(b, '\n'), 0o644)
		}
	}
	return fmt.Errorf("set VF %d of %s: %w", vf, pf, os.ErrNotExist)
}

// SetMAC implements Links.
func (f Files) SetMAC(pf string, vf int, mac net.HardwareAddr) error {
	return f.update(pf, vf, func(v *VF) { v.MAC = mac.String() })
}

// SetVLAN implements Links.
func (f Files) SetVLAN(pf string, vf, vlan, qos int) error {
	return f.update(pf, vf, func(v *VF) { v.VLAN, v.QoS = vlan, qos })
}

// SetSpoofCheck implements Links.
func (f Files) SetSpoofCheck(pf string, vf int, on bool) error {
	return f.update(pf, vf, func(v *VF) { v.SpoofCheck = on })
}

// SetTrust implements Links.
func (f Files) SetTrust(pf string, vf int, on bool) error {
	return f.update(pf, vf, func(v *VF) { v.Trust = on })
}

// SetLinkState implements Links.
func (f Files) SetLinkState(pf string, vf int, state string) error {
	if _, err := linkStateValue(state); err != nil {
		return err
	}
	return f.update(pf, vf, func(v *VF) { v.LinkState = state })
}

// SetRate implements Links.
func (f Files) SetRate(pf string, vf int, minMbps, maxMbps int) error {
	return f.update(pf, vf, func(v *VF) { v.MinTxRate, v.MaxTxRate = uint32(minMbps), uint32(maxMbps) })
}
