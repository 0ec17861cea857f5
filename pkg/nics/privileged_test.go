package nics_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/cli"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/vishvananda/netlink"
)

// The privileged tests re-run this test binary inside new namespaces
// (unshare), where the child mounts a private tmpfs on /var/lib (so the
// journal under /var/lib/nettune never touches the host's) and, in a new
// network namespace, a sysfs that shows that namespace's interfaces. The
// child then runs nettune in-process against the live kernel.
const childEnv = "NETTUNE_NICS_TEST_CHILD"

func inChild(t *testing.T, test string, unshare []string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network and mount namespaces, veth)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("needs unshare: %v", err)
	}
	script := `set -e
mount --make-rprivate /
[ "$NEWNET" = 1 ] && mount -t sysfs sysfs /sys
mkdir -p /var/lib
mount -t tmpfs nettune-test /var/lib
exec "$@"`
	newnet := "0"
	for _, a := range unshare {
		if a == "--net" {
			newnet = "1"
		}
	}
	args := append(append([]string{}, unshare...), "--", "sh", "-c", script, "sh", os.Args[0], "-test.run", "^"+test+"$", "-test.v", "-test.count=1")
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), childEnv+"="+test, "NEWNET="+newnet)
	out, err := cmd.CombinedOutput()
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Fatalf("child %s: %v", test, err)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+test)) {
		t.Fatalf("child %s did not pass", test)
	}
}

// child reports whether this process is the namespaced child of test.
func child(test string) bool { return os.Getenv(childEnv) == test }

func nettune(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := cli.Run(context.Background(), args, cli.IO{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	return code, out.String()
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// vethState is what the veth test changes.
type vethState struct {
	rx, tx         uint32
	gro, csum      bool
	txqlen         int
	rps0, xps0     string
	defaultAffinty string
}

func readVeth(t *testing.T, eth ethtool.Interface, name string) vethState {
	t.Helper()
	c, err := eth.Channels(name)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := eth.Features(name)
	if err != nil {
		t.Fatal(err)
	}
	q, err := eth.TxQueueLen(name)
	if err != nil {
		t.Fatal(err)
	}
	return vethState{
		rx: c.RX, tx: c.TX, gro: fs["rx-gro"].Active, csum: fs["tx-checksum-ip-generic"].Active, txqlen: q,
		rps0:           readFile(t, "/sys/class/net/"+name+"/queues/rx-0/rps_cpus"),
		xps0:           readFile(t, "/sys/class/net/"+name+"/queues/tx-0/xps_cpus"),
		defaultAffinty: readFile(t, "/proc/irq/default_smp_affinity"),
	}
}

// TestPrivilegedVethNetns tunes a veth in a fresh network namespace through
// the CLI: channels, offloads, txqueuelen, RPS and XPS (in two applies,
// because the channel change adds queues), plus the default IRQ affinity;
// check agrees, revert restores every value, read back from the kernel.
func TestPrivilegedVethNetns(t *testing.T) {
	const name = "TestPrivilegedVethNetns"
	if !child(name) {
		before := readFile(t, "/proc/irq/default_smp_affinity")
		inChild(t, name, []string{"--net", "--mount"})
		if after := readFile(t, "/proc/irq/default_smp_affinity"); after != before {
			t.Errorf("default_smp_affinity %s after the test, was %s", after, before)
			(host.OSWriter{}).WriteKernel("/proc/irq/default_smp_affinity", before)
		}
		return
	}
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: "ntv0", NumTxQueues: 4, NumRxQueues: 4},
		PeerName:  "ntv1", PeerNumTxQueues: 4, PeerNumRxQueues: 4,
	}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("create veth: %v", err)
	}
	defer netlink.LinkDel(veth)
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	eth, err := ethtool.Open(r)
	if err != nil {
		t.Fatal(err)
	}
	defer eth.Close()
	// Start from one queue each way, so the profile's two are new queues.
	if err := eth.SetChannels("ntv0", ethtool.Channels{RX: 1, TX: 1}); err != nil {
		t.Fatal(err)
	}
	before := readVeth(t, eth, "ntv0")
	if before.rx != 1 || before.tx != 1 {
		t.Fatalf("veth has %d/%d channels, want 1/1", before.rx, before.tx)
	}
	prof := filepath.Join(t.TempDir(), "veth.yaml")
	os.WriteFile(prof, []byte(`apiVersion: nettune/v1
kind: Profile
metadata: {name: veth-netns}
spec:
  nics:
    - match: {name: "ntv*", driver: veth}
      channels: {rx: 2, tx: 2}
      features: {rx-gro: true, tx-checksum-ip-generic: false}
      txqueuelen: 4000
      rps: {cpus: 0-1}
      xps: {cpus: 0-1, spread: true}
  irqbalance: {mode: ignore, defaultAffinity: "0"}
`), 0o644)
	// ntv1 is matched too: tune only ntv0 by naming it.
	data, _ := os.ReadFile(prof)
	os.WriteFile(prof, bytes.Replace(data, []byte(`"ntv*"`), []byte(`"ntv0"`), 1), 0o644)

	code, out := nettune(t, "apply", "--yes", prof)
	if code != cli.ExitOK {
		t.Fatalf("first apply: %d\n%s", code, out)
	}
	if !strings.Contains(out, "planned on the next run") {
		t.Errorf("first apply does not say the new queues wait:\n%s", out)
	}
	if code, out = nettune(t, "check", "--interval", "0", prof); code != cli.ExitDrift || !strings.Contains(out, "ntv0/rx-1") {
		t.Errorf("check between the applies: %d\n%s", code, out)
	}
	if code, out = nettune(t, "apply", "--yes", prof); code != cli.ExitOK {
		t.Fatalf("second apply: %d\n%s", code, out)
	}
	if code, out = nettune(t, "check", "--interval", "0", prof); code != cli.ExitOK {
		t.Errorf("check after the applies: %d\n%s", code, out)
	}
	got := readVeth(t, eth, "ntv0")
	want := vethState{rx: 2, tx: 2, gro: true, csum: false, txqlen: 4000, rps0: "3", xps0: "1", defaultAffinty: "1"}
	if got != want {
		t.Errorf("applied state %+v, want %+v", got, want)
	}
	for q, mask := range map[string]string{"rx-1/rps_cpus": "3", "tx-1/xps_cpus": "2"} {
		if v := readFile(t, "/sys/class/net/ntv0/queues/"+q); v != mask {
			t.Errorf("%s = %s, want %s", q, v, mask)
		}
	}

	if code, out = nettune(t, "revert", "--yes", "--to", "1"); code != cli.ExitOK {
		t.Fatalf("revert: %d\n%s", code, out)
	}
	if after := readVeth(t, eth, "ntv0"); after != before {
		t.Errorf("after revert %+v, before %+v", after, before)
	}
	if code, _ = nettune(t, "check", "--interval", "0", prof); code != cli.ExitDrift {
		t.Errorf("check after revert: %d, want drift", code)
	}
	if _, err := os.Stat("/var/lib/nettune"); err == nil {
		t.Errorf("state directory left after revert")
	}

	// RFS needs the global table, which a child namespace does not have.
	os.WriteFile(prof, []byte(`apiVersion: nettune/v1
kind: Profile
metadata: {name: rfs-netns}
spec:
  nics:
    - match: {name: ntv0}
      rfs: {flowEntries: 4096}
`), 0o644)
	if code, out = nettune(t, "plan", prof); code != cli.ExitError || !strings.Contains(out, "initial network namespace") {
		t.Errorf("rfs in a child namespace: %d\n%s", code, out)
	}
}

// TestPrivilegedRFS sets RFS on a veth in the initial network namespace,
// where net.core.rps_sock_flow_entries lives, and restores it.
func TestPrivilegedRFS(t *testing.T) {
	const name = "TestPrivilegedRFS"
	const sock = "/proc/sys/net/core/rps_sock_flow_entries"
	if !child(name) {
		before := readFile(t, sock)
		defer func() {
			exec.Command("ip", "link", "del", "ntrfs0").Run()
			if after := readFile(t, sock); after != before {
				t.Errorf("rps_sock_flow_entries %s after the test, was %s", after, before)
				(host.OSWriter{}).WriteKernel(sock, before)
			}
		}()
		inChild(t, name, []string{"--mount"})
		return
	}
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: "ntrfs0", NumTxQueues: 2, NumRxQueues: 2},
		PeerName:  "ntrfs1", PeerNumTxQueues: 2, PeerNumRxQueues: 2,
	}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("create veth: %v", err)
	}
	defer netlink.LinkDel(veth)
	before := readFile(t, sock)
	flow0 := readFile(t, "/sys/class/net/ntrfs0/queues/rx-0/rps_flow_cnt")
	prof := filepath.Join(t.TempDir(), "rfs.yaml")
	os.WriteFile(prof, []byte(`apiVersion: nettune/v1
kind: Profile
metadata: {name: rfs}
spec:
  nics:
    - match: {name: ntrfs0}
      rps: {cpus: 0-1}
      rfs: {flowEntries: 4096}
`), 0o644)
	if code, out := nettune(t, "apply", "--yes", prof); code != cli.ExitOK {
		t.Fatalf("apply: %d\n%s", code, out)
	}
	if code, out := nettune(t, "check", "--interval", "0", prof); code != cli.ExitOK {
		t.Errorf("check: %d\n%s", code, out)
	}
	// Two rx queues share the table.
	if v := readFile(t, sock); v != "4096" {
		t.Errorf("rps_sock_flow_entries = %s", v)
	}
	if v := readFile(t, "/sys/class/net/ntrfs0/queues/rx-0/rps_flow_cnt"); v != "2048" {
		t.Errorf("rps_flow_cnt = %s", v)
	}
	if code, out := nettune(t, "revert", "--yes"); code != cli.ExitOK {
		t.Fatalf("revert: %d\n%s", code, out)
	}
	if v := readFile(t, sock); v != before {
		t.Errorf("rps_sock_flow_entries %s after revert, was %s", v, before)
	}
	if v := readFile(t, "/sys/class/net/ntrfs0/queues/rx-0/rps_flow_cnt"); v != flow0 {
		t.Errorf("rps_flow_cnt %s after revert, was %s", v, flow0)
	}
}
