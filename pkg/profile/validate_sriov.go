package profile

import (
	"fmt"
	"net"
)

// validateVFDevice checks a spec.devices entry that names a VF by its PF
// and index; it returns the key that identifies the VF.
func (v *validator) validateVFDevice(segs []string, d Device) (string, bool) {
	ok := true
	if d.PCI != "" {
		v.fail(append(segs, "pci"), "give either pci, or pf and vf, not both")
		ok = false
	}
	if d.PF == "" || d.VF == nil {
		v.fail(segs, "a VF is named by pf (its physical function's PCI address) and vf (its index): both are needed")
		return "", false
	}
	if !IsPCIAddress(d.PF) {
		v.fail(append(segs, "pf"), "%q is not a PCI address (0000:03:00.0 or 03:00.0)", d.PF)
		return "", false
	}
	return fmt.Sprintf("%s vf %d", NormalizePCI(d.PF), *d.VF), ok
}

// validateSRIOV checks spec.sriov without looking at the host: one entry
// per PF, VF indexes below numVFs and named once, MACs that parse, a QoS
// only with a VLAN, a minimum rate not above the maximum.
func (v *validator) validateSRIOV(list []SRIOV) {
	seen := map[string]int{}
	for i, e := range list {
		segs := []string{"spec", "sriov", idx(i)}
		key := e.PF
		if IsPCIAddress(key) {
			key = NormalizePCI(key)
		} else if !ifnameRe.MatchString(key) {
			v.fail(append(segs, "pf"), "%q is neither a PCI address nor an interface name", e.PF)
		}
		if j, dup := seen[key]; dup {
			v.fail(append(segs, "pf"), "physical function %s is already listed at sriov[%d]", e.PF, j)
		}
		seen[key] = i
		vfs := map[int]int{}
		for k, vf := range e.VFs {
			vs := append(append([]string{}, segs...), "vfs", idx(k))
			if vf.Index >= e.NumVFs {
				v.fail(append(vs, "index"), "VF %d does not exist with numVFs %d (VFs are numbered 0 to numVFs-1)", vf.Index, e.NumVFs)
			}
			if j, dup := vfs[vf.Index]; dup {
				v.fail(append(vs, "index"), "VF %d is already configured at vfs[%d]", vf.Index, j)
			}
			vfs[vf.Index] = k
			if vf.MAC != "" {
				if hw, err := net.ParseMAC(vf.MAC); err != nil || len(hw) != 6 {
					v.fail(append(vs, "mac"), "%q is not an Ethernet MAC address", vf.MAC)
				} else if hw[0]&1 != 0 {
					v.fail(append(vs, "mac"), "%q is a multicast address; a VF needs a unicast MAC", vf.MAC)
				}
			}
			if vf.QoS != nil && *vf.QoS != 0 && (vf.VLAN == nil || *vf.VLAN == 0) {
				v.fail(append(vs, "qos"), "a QoS priority needs a port VLAN (vlan 1-4095)")
			}
			if vf.MinTxRate != nil && vf.MaxTxRate != nil && *vf.MaxTxRate != 0 && *vf.MinTxRate > *vf.MaxTxRate {
				v.fail(append(vs, "minTxRateMbps"), "minimum rate %d Mbit/s is above the maximum %d Mbit/s", *vf.MinTxRate, *vf.MaxTxRate)
			}
		}
	}
}
