package profile

import (
	"strings"
	"testing"
)

// TestSteeringValidation: ntuple and rss mistakes that need no host are
// refused at load, at the file:line:col of the offending value.
func TestSteeringValidation(t *testing.T) {
	head := "apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: t}\nspec:\n  nics:\n    - match: {name: eth0}\n"
	for _, tc := range []struct{ name, body, want string }{
		{"duplicate match", "      ntuple:\n        - {flowType: udp4, dst: 10.0.0.1, dstPort: 53, queue: 1}\n        - {flowType: udp4, dst: 10.0.0.1/32, dstPort: 53, queue: 2}\n",
			"p.yaml:9:11: spec.nics[0].ntuple[1]: matches the same packets as ntuple[0]"},
		{"same location", "      ntuple:\n        - {flowType: udp4, dstPort: 53, queue: 1, location: 3}\n        - {flowType: udp4, dstPort: 54, queue: 1, location: 3}\n",
			"p.yaml:9:61: spec.nics[0].ntuple[1].location: location 3 is already taken by ntuple[0]"},
		{"queue and drop", "      ntuple:\n        - {flowType: udp4, dstPort: 53, queue: 1, drop: true}\n", "needs one of queue or drop"},
		{"no action", "      ntuple:\n        - {flowType: udp4, dstPort: 53}\n", "needs one of queue or drop"},
		{"host bits", "      ntuple:\n        - {flowType: tcp4, src: 10.0.0.1/24, queue: 1}\n", "has host bits set under the /24 mask (the network is 10.0.0.0/24)"},
		{"family", "      ntuple:\n        - {flowType: tcp4, src: \"2001:db8::1\", queue: 1}\n", "is not an address of flowType tcp4"},
		{"ether ports", "      ntuple:\n        - {flowType: ether, dstPort: 53, queue: 1}\n", "flowType ether has no ports"},
		{"ether address", "      ntuple:\n        - {flowType: ether, dst: 10.0.0.1, queue: 1}\n", "is not a MAC address"},
		{"flow type", "      ntuple:\n        - {flowType: sctp4, queue: 1}\n", "sctp4"},
		{"empty rss", "      rss: {startQueue: 0}\n", "needs at least one of queues, weights"},
		{"queues and weights", "      rss: {queues: 2, weights: [1, 1]}\n", "give queues or weights, not both"},
		{"start alone", "      rss: {startQueue: 2, hashFunction: xor}\n", "startQueue needs queues or weights"},
		{"zero weights", "      rss: {weights: [0, 0]}\n", "all weights are 0"},
		{"key", "      rss: {hashKey: \"6d:5a:5\"}\n", "byte 2 \"5\" is not two hex digits"},
		{"hash function", "      rss: {hashFunction: sha}\n", "toeplitz"},
		{"flow hash type", "      rss: {flowHash: {sctp4: sd}}\n", "flow type \"sctp4\" is not one of tcp4, udp4, tcp6, udp6"},
		{"flow hash letter", "      rss: {flowHash: {udp4: sdx}}\n", "'x' is not a hash field letter"},
		{"flow hash twice", "      rss: {flowHash: {udp4: sds}}\n", "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(head+tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %q", err, tc.want)
			}
		})
	}
	ok := head + "      rss: {weights: [3, 1], startQueue: 1, hashFunction: toeplitz, flowHash: {udp4: sdfn, tcp4: r}}\n" +
		"      ntuple:\n        - {flowType: udp4, dst: 10.0.0.0/8, dstPort: 53, queue: 1}\n        - {flowType: udp4, dst: 10.0.0.0/8, dstPort: 54, drop: true, location: 4}\n        - {flowType: ether, src: \"02:00:00:00:00:01\", vlan: 7, queue: 0}\n"
	p, err := Parse("p.yaml", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Spec.NICs[0].NTuple[1].Spec(); got != "flow-type udp4 dst-ip 10.0.0.0/8 dst-port 54 action -1 loc 4" {
		t.Errorf("Spec %q", got)
	}
}
