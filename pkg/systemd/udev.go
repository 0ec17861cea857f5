package systemd

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nettune/nettune/pkg/profile"
)

// udevValue refuses what a udev rule's quoted value cannot hold.
func udevValue(field, v string) error {
	if strings.ContainsAny(v, "\"\\\n\r|") {
		return fmt.Errorf("%s %q cannot go into a udev rule (quote, backslash, '|' or newline)", field, v)
	}
	return nil
}

// nicRules are the udev rules that start nettune-nic@<ifname>.service for
// the network interfaces the profile's spec.nics select, and for no other:
// each entry's match becomes udev match keys (PCI address: KERNELS, driver:
// DRIVERS, MAC: ATTR{address}, name or glob: the kernel's name, KERNEL, or
// the name udev renames it to, NAME, in a second rule). An entry whose
// match names nothing selects every interface, as in the profile.
func nicRules(nics []profile.NIC) ([]string, error) {
	var rules []string
	seen := map[string]bool{}
	for i, n := range nics {
		m := n.Match
		keys := []string{`ACTION=="add"`, `SUBSYSTEM=="net"`, `KERNEL!="lo"`}
		for _, kv := range []struct{ field, key, value string }{
			{"pci", "KERNELS", profile.NormalizePCI(m.PCI)},
			{"driver", "DRIVERS", m.Driver},
			{"mac", "ATTR{address}", strings.ToLower(m.MAC)},
		} {
			if kv.value == "" {
				continue
			}
			if err := udevValue(fmt.Sprintf("spec.nics[%d].match.%s", i, kv.field), kv.value); err != nil {
				return nil, err
			}
			keys = append(keys, fmt.Sprintf("%s==%q", kv.key, kv.value))
		}
		variants := [][]string{keys}
		if m.Name != "" {
			if err := udevValue(fmt.Sprintf("spec.nics[%d].match.name", i), m.Name); err != nil {
				return nil, err
			}
			variants = [][]string{
				append(append([]string{}, keys...), fmt.Sprintf("KERNEL==%q", m.Name)),
				append(append([]string{}, keys...), fmt.Sprintf("NAME==%q", m.Name)),
			}
		}
		for _, v := range variants {
			r := strings.Join(append(v, `TAG+="systemd"`, `ENV{SYSTEMD_WANTS}+="nettune-nic@$name.service"`), ", ")
			if !seen[r] {
				seen[r] = true
				rules = append(rules, fmt.Sprintf("# spec.nics[%d]\n%s", i, r))
			}
		}
	}
	return rules, nil
}

// userspaceDrivers are the drivers a device is bound to for a userspace
// (DPDK) application; only these get a boot-time driver_override, since a
// kernel driver named in spec.devices claims its device on its own.
var userspaceDrivers = map[string]bool{"vfio-pci": true, "uio_pci_generic": true, "igb_uio": true}

// deviceRules are the udev rules that set driver_override on each PCI
// device spec.devices binds to a userspace driver, when the device is
// added (at boot: before udev's kmod builtin, which runs after all rules,
// loads the kernel driver; as driverctl does), that hand it over when a
// kernel driver bound it all the same (a "bind" event), and the
// modules those drivers need loaded at boot. A device named by interface
// instead of PCI address has no stable name before its driver creates the
// interface: it gets no rule, and a warning.
func deviceRules(devs []profile.Device) (rules, modules, warnings []string, err error) {
	mods := map[string]bool{}
	for i, d := range devs {
		if !userspaceDrivers[d.Driver] {
			continue
		}
		pci := profile.NormalizePCI(d.PCI)
		if !strings.Contains(pci, ":") {
			warnings = append(warnings, fmt.Sprintf("spec.devices[%d] names %q, not a PCI address: no boot rule binds it before its kernel driver (the boot apply rebinds it later); name it by PCI address", i, d.PCI))
			continue
		}
		if err := udevValue(fmt.Sprintf("spec.devices[%d].pci", i), pci); err != nil {
			return nil, nil, nil, err
		}
		rules = append(rules, fmt.Sprintf("# spec.devices[%d]: %s on %s from the moment it appears\n"+
			"ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==%q, ATTR{driver_override}=%q\n"+
			"# A driver loaded before the rule ran (built in, from the initramfs) claimed it: hand it over.\n"+
			"ACTION==\"bind\", SUBSYSTEM==\"pci\", KERNEL==%q, DRIVER!=%q, ATTR{driver_override}==%q, RUN+=\"/bin/sh -c 'echo %s > /sys/bus/pci/devices/%s/driver/unbind; echo %s > /sys/bus/pci/drivers_probe'\"",
			i, pci, d.Driver, pci, d.Driver, pci, d.Driver, d.Driver, pci, pci, pci))
		mods[strings.ReplaceAll(d.Driver, "-", "_")] = true
	}
	for m := range mods {
		modules = append(modules, m)
	}
	sort.Strings(modules)
	return rules, modules, warnings, nil
}
