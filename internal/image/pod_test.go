package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// unpack writes img's root filesystem under dir, as a container runtime
// would.
func unpack(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode).Perm())
			if err == nil {
				err = os.Chmod(p, os.FileMode(h.Mode).Perm()|map[bool]os.FileMode{true: os.ModeSticky}[h.Mode&0o1000 != 0])
			}
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()); err == nil {
				_, err = io.Copy(f, tr)
				f.Close()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (chroot, namespaces)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
}

// TestPrivilegedFullImageRuns runs the full image's programs chrooted in
// its root filesystem: the loader finds every library the forwarder and
// the host tools need.
func TestPrivilegedFullImageRuns(t *testing.T) {
	needRoot(t, "chroot")
	_, img := fullImage(t)
	root := t.TempDir()
	unpack(t, img, root)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{ForwarderPath, "-h"}, "usage: nettune-forwarder"},
		{[]string{"/usr/bin/systemctl", "--version"}, "systemd"},
		{[]string{"/usr/bin/udevadm", "--version"}, ""},
		{[]string{"/usr/bin/mount", "--version"}, "mount from util-linux"},
		{[]string{NettunePath, "version"}, "1"},
	} {
		out, err := exec.Command("chroot", append([]string{root}, c.args...)...).CombinedOutput()
		if strings.Contains(string(out), "error while loading shared libraries") || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: %v\n%s", strings.Join(c.args, " "), err, out)
		}
	}
}

// TestPrivilegedPodEntrypoint runs the slim image's entrypoint as the
// DaemonSet's pod runs it: the image's root filesystem unpacked, the host's
// /sys, /proc, /dev, /etc, /boot and /run bind-mounted at the same paths,
// the profile mounted from a ConfigMap-like directory, chrooted, in a fresh
// network namespace (the test's stand-in for the host's: net.* sysctls are
// per namespace) and a private mount namespace where /etc/sysctl.d and
// /var/lib/nettune are tmpfs. The agent applies the profile against the
// real kernel and reports ready; check agrees; SIGTERM stops the agent;
// revert restores the namespace's values. The host's values are compared
// before and after.
func TestPrivilegedPodEntrypoint(t *testing.T) {
	needRoot(t, "unshare", "ip", "chroot", "curl", "mount")
	// The agent refuses to run beside tuned, as it should on a node.
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		if b, _ := os.ReadFile(c); strings.TrimSpace(string(b)) == "tuned" {
			t.Skipf("tuned runs on this host (%s): the agent would refuse to run", c)
		}
	}
	spec, err := Slim(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	unpack(t, img, root)
	cm := filepath.Join(dir, "configmap")
	if err := os.MkdirAll(cm, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cm, "profile.yaml"), []byte(`apiVersion: nettune/v1
kind: Profile
metadata: {name: pod-test}
spec:
  sysctl:
    net.core.somaxconn: 1234
    net.ipv4.tcp_rmem: [4096, 65536, 1048576]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	hostSysctls := func() string {
		a, _ := os.ReadFile("/proc/sys/net/core/somaxconn")
		b, _ := os.ReadFile("/proc/sys/net/ipv4/tcp_rmem")
		_, c := os.Stat("/etc/sysctl.d/90-nettune.conf")
		_, d := os.Stat("/run/reboot-required")
		return fmt.Sprintf("%s %s sysctl.d file absent: %v, reboot-required absent: %v", a, b, errors.Is(c, os.ErrNotExist), errors.Is(d, os.ErrNotExist))
	}
	hostBefore := hostSysctls()

	script := `set -e
R=$ROOTFS
mount --make-rprivate /
mount -t tmpfs nettune-test /etc/sysctl.d
for p in sys proc dev etc boot run; do mkdir -p "$R/$p"; mount --rbind "/$p" "$R/$p"; done
mount -t tmpfs nettune-test "$R/var/lib/nettune"
mount --bind -o ro "$CM" "$R/nettune/profile"
ip link set lo up
show() { echo "$1 $(cat /proc/sys/net/core/somaxconn) $(tr '\t' ' ' </proc/sys/net/ipv4/tcp_rmem)"; }
show before
chroot "$R" "$ENTRYPOINT" agent --listen=127.0.0.1:9617 --poll=100ms --resync=200ms /nettune/profile/profile.yaml 2>"$LOG" &
pid=$!
for i in $(seq 100); do
  curl -sf http://127.0.0.1:9617/readyz >/dev/null && break
  kill -0 $pid
  sleep 0.1
done
echo "readyz $(curl -s http://127.0.0.1:9617/readyz)"
show applied
curl -sf http://127.0.0.1:9617/metrics | grep -E '^nettune_(agent_ready|profile_in_sync)' | tr '\n' ' '; echo
chroot "$R" "$ENTRYPOINT" check --interval 0 --diagnostics=false /nettune/profile/profile.yaml >/dev/null && echo "check 0"
kill -TERM $pid
wait $pid && echo "agent-exit 0"
chroot "$R" "$ENTRYPOINT" revert --yes >/dev/null
show reverted
`
	log := filepath.Join(dir, "agent.log")
	cmd := exec.Command("unshare", "--net", "--mount", "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "ROOTFS="+root, "CM="+cm, "LOG="+log, "ENTRYPOINT="+cfg.Config.Entrypoint[0])
	out, err := cmd.CombinedOutput()
	agentLog, _ := os.ReadFile(log)
	if err != nil {
		t.Fatalf("pod script: %v\n%s\nagent log:\n%s", err, out, agentLog)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, " ")
		lines[k] = v
	}
	if lines["applied"] != "1234 4096 65536 1048576" {
		t.Errorf("applied: %q", lines["applied"])
	}
	if lines["reverted"] != lines["before"] || lines["before"] == "" {
		t.Errorf("before %q, reverted %q", lines["before"], lines["reverted"])
	}
	if !strings.HasPrefix(lines["readyz"], `ready: profile "pod-test" applied, check ok`) {
		t.Errorf("readyz: %q", lines["readyz"])
	}
	if !strings.Contains(string(out), "nettune_agent_ready 1") || !strings.Contains(string(out), `nettune_profile_in_sync{profile="pod-test"} 1`) {
		t.Errorf("metrics:\n%s", out)
	}
	if lines["check"] != "0" || lines["agent-exit"] != "0" {
		t.Errorf("check %q, agent exit %q\n%s\nagent log:\n%s", lines["check"], lines["agent-exit"], out, agentLog)
	}
	if !strings.Contains(string(agentLog), "msg=applied") {
		t.Errorf("agent log:\n%s", agentLog)
	}
	if after := hostSysctls(); after != hostBefore {
		t.Errorf("host changed: before %q, after %q", hostBefore, after)
	}
}
