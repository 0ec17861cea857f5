package systemd

import (
	"fmt"
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
