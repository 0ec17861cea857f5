package ethtool

import (
	"bufio"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestParseCoalesceReply: a reply captured from a live kernel, and two
// built by hand for the edges. An attribute is in the reply when the
// driver supports the parameter (or reports it nonzero); ethtool -c
// prints "n/a" for the others.
func TestParseCoalesceReply(t *testing.T) {
	for _, tc := range []struct {
		name, hex string
		want      []string
	}{
		// virtio_net on Linux 6.18 (this repository's test VM), ethtool -c:
		// "Adaptive RX: off  TX: n/a", rx-usecs 0, rx-frames 1, tx-usecs
		// 0, tx-frames 1, everything else n/a.
		{"virtio_net 6.18", "14010000" + // genlmsghdr: cmd 20 (COALESCE_GET_REPLY), version 1
			"180001800800010004000000090002006574683000000000" + // HEADER {DEV_INDEX 4, DEV_NAME "eth0"}
			"0800020000000000" + "0800030001000000" + // RX_USECS 0, RX_MAX_FRAMES 1
			"0800060000000000" + "0800070001000000" + // TX_USECS 0, TX_MAX_FRAMES 1
			"05000b0000000000", // USE_ADAPTIVE_RX 0
			[]string{"rx-usecs", "rx-frames", "tx-usecs", "tx-frames", "adaptive-rx"}},
		// Only the header: a driver that supports nothing and reports zeros.
		{"header only", "14010000" + "180001800800010004000000090002006574683000000000", []string{}},
		// An unknown attribute (the nested rx profile, 29) is skipped;
		// tx-aggr-time-usecs (28) is known.
		{"unknown attribute", "14010000" + "04001d80" + "08001c0010000000", []string{"tx-aggr-time-usecs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseCoalesceReply(b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := parseCoalesceReply([]byte{0x14, 0x01}); err == nil {
		t.Error("a reply shorter than the generic netlink header was accepted")
	}
}

// ethtoolCNames returns the parameters `ethtool -c` shows with a value
// (not "n/a"), by ethtool -C's names.
func ethtoolCNames(out string) []string {
	var shown []string
	add := func(name, v string) {
		if v != "n/a" && slices.Contains(CoalesceParams, name) {
			shown = append(shown, name)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for _, pair := range []struct{ prefix, name string }{{"Adaptive RX:", "adaptive"}, {"CQE mode RX:", "cqe-mode"}} {
			if rest, ok := strings.CutPrefix(line, pair.prefix); ok {
				// "Adaptive RX: off  TX: n/a"
				rx, tx, _ := strings.Cut(rest, "TX:")
				add(pair.name+"-rx", strings.TrimSpace(rx))
				add(pair.name+"-tx", strings.TrimSpace(tx))
				line = ""
			}
		}
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		// ethtool -c prints rx-frame-low where ethtool -C says rx-frames-low.
		name = strings.Replace(name, "-frame-", "-frames-", 1)
		add(name, strings.TrimSpace(v))
	}
	var out2 []string
	for _, p := range CoalesceParams {
		if slices.Contains(shown, p) {
			out2 = append(out2, p)
		}
	}
	return out2
}

// TestPrivilegedCoalesceSupportedEth0 reads, never writes, the coalescing
// of the host's eth0 (a real driver: virtio_net on the test VM) and checks
// that the supported set read over ethtool netlink is what ethtool -c
// shows as not n/a.
func TestPrivilegedCoalesceSupportedEth0(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (the test VM runs it as root)")
	}
	if _, err := os.Stat("/sys/class/net/eth0"); err != nil {
		t.Skip("no eth0 on this host")
	}
	if _, err := exec.LookPath("ethtool"); err != nil {
		t.Skip("no ethtool(8) to compare with")
	}
	l, err := openLive()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := l.Coalesce("eth0")
	if errors.Is(err, ErrNotSupported) {
		t.Skip("eth0's driver has no coalescing")
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.Supported == nil {
		t.Skip("the kernel has no ethtool netlink family: the supported set is unknown")
	}
	out, err := exec.Command("ethtool", "-c", "eth0").CombinedOutput()
	if err != nil {
		t.Fatalf("ethtool -c eth0: %v\n%s", err, out)
	}
	want := ethtoolCNames(string(out))
	if !slices.Equal(c.Supported, want) {
		t.Errorf("supported %v, ethtool -c eth0 shows %v:\n%s", c.Supported, want, out)
	}
	// A parameter ethtool shows as n/a is unsupported, not off.
	if strings.Contains(string(out), "Adaptive RX: n/a") && c.Supports("adaptive-rx") {
		t.Errorf("adaptive-rx is n/a in ethtool -c but read as supported")
	}
}

func TestEthtoolCNames(t *testing.T) {
	// ethtool 6.1's `ethtool -c eth0` on the test VM (virtio_net, Linux 6.18).
	out := `Coalesce parameters for eth0:
Adaptive RX: off  TX: n/a
stats-block-usecs: n/a
sample-interval: n/a
pkt-rate-low: n/a
pkt-rate-high: n/a

rx-usecs: 0
rx-frames: 1
rx-usecs-irq: n/a
rx-frames-irq: n/a

tx-usecs: 0
tx-frames: 1
tx-usecs-irq: n/a
tx-frames-irq: n/a

rx-usecs-low: n/a
rx-frame-low: n/a
tx-usecs-low: n/a
tx-frame-low: n/a

rx-usecs-high: n/a
rx-frame-high: n/a
tx-usecs-high: n/a
tx-frame-high: n/a

CQE mode RX: n/a  TX: n/a
`
	want := []string{"rx-usecs", "rx-frames", "tx-usecs", "tx-frames", "adaptive-rx"}
	if got := ethtoolCNames(out); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
