package profile

import (
	"strings"
	"testing"
)

// TestSRIOVValidation: spec.sriov and VF entries of spec.devices are
// checked without a host, each error at its file:line:col.
func TestSRIOVValidation(t *testing.T) {
	sr := header + "spec:\n  sriov:\n    - pf: 0000:03:00.0\n      numVFs: 2\n      vfs:\n"
	for _, tc := range []struct{ name, in, want string }{
		{"index beyond numVFs", sr + "        - index: 2\n", "p.yaml:10:18: spec.sriov[0].vfs[0].index: VF 2 does not exist with numVFs 2"},
		{"vf twice", sr + "        - index: 1\n        - index: 1\n", "VF 1 is already configured at vfs[0]"},
		{"multicast mac", sr + "        - index: 0\n          mac: 01:00:5e:00:00:01\n", "is a multicast address"},
		{"qos without vlan", sr + "        - index: 0\n          qos: 3\n", "a QoS priority needs a port VLAN"},
		{"min above max", sr + "        - index: 0\n          minTxRateMbps: 200\n          maxTxRateMbps: 100\n", "minimum rate 200 Mbit/s is above the maximum 100"},
		{"vlan range", sr + "        - index: 0\n          vlan: 4096\n", "4096"},
		{"pf twice", header + "spec:\n  sriov:\n    - {pf: 03:00.0, numVFs: 1}\n    - {pf: 0000:03:00.0, numVFs: 2}\n", "already listed at sriov[0]"},
		{"device pci and pf", header + "spec:\n  devices:\n    - {pci: 03:10.0, pf: 03:00.0, vf: 0, driver: vfio-pci}\n", "give either pci, or pf and vf, not both"},
		{"device pf without vf", header + "spec:\n  devices:\n    - {pf: 03:00.0, driver: vfio-pci}\n", "both are needed"},
		{"device vf twice", header + "spec:\n  devices:\n    - {pf: 03:00.0, vf: 1, driver: vfio-pci}\n    - {pf: 0000:03:00.0, vf: 1, driver: vfio-pci}\n", "VF 0000:03:00.0 vf 1 is already listed at devices[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
	ok := sr + "        - {index: 1, mac: 02:00:00:00:0e:01, vlan: 100, qos: 2, trust: true, spoofCheck: false, linkState: enable, maxTxRateMbps: 1000}\n  devices:\n    - {pf: 0000:03:00.0, vf: 1, driver: vfio-pci}\n"
	if _, err := Parse("p.yaml", []byte(ok)); err != nil {
		t.Fatalf("valid profile refused: %v", err)
	}
}
