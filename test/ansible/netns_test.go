package ansible_test

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The per-namespace settings of testdata/netns.yaml, with the values the
// profile sets.
var netnsProfile = map[string]string{
	"net.core.somaxconn":                 "8192",
	"net.ipv4.tcp_fin_timeout":           "30",
	"net.ipv4.tcp_keepalive_time":        "600",
	"net.ipv4.tcp_slow_start_after_idle": "0",
}

// hostDirs are the host paths the role or nettune write (docs/safety.md,
// roles/nettune), and those ssh and Ansible write by default. Inside the
// test's mount namespace they are covered; on the host they must not change.
var hostDirs = []string{
	"/etc/nettune", "/etc/sysctl.d", "/etc/ssh", "/var/lib/nettune", "/var/lib/nettune-snapshot",
	"/var/cache/nettune", "/run/nettune", "/run/sysctl.d", "/run/sshd", "/usr/local/sbin",
	"/root/.ansible", "/root/.ssh",
}

// treeHash lists a directory tree: every path with its mode, and the
// content hash of regular files and the target of symlinks.
func treeHash(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				b.WriteString("absent\n")
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v", p, info.Mode())
		switch {
		case info.Mode().IsRegular():
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(c))
		case info.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			b.WriteString(" -> " + l)
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatalf("listing %s: %v", root, err)
	}
	return b.String()
}

func hostState(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, d := range hostDirs {
		m[d] = treeHash(t, d)
	}
	for k := range netnsProfile {
		b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(k, ".", "/"))
		if err != nil {
			t.Fatal(err)
		}
		m[k] = strings.TrimSpace(string(b))
	}
	return m
}

// nsSetup runs as the first process of the test's namespaces (mount, net,
// pid): loopback up, and a private copy of every host path written:
// overlays (their upper layers on a tmpfs of the namespace) over /etc,
// /var/lib, /var/cache, /usr/local and /root, a tmpfs over /run. Then it
// says "ready" and stays, as pid 1 of the namespace: when it is killed,
// every process of the namespace (sshd, ssh's control masters) dies too.
const nsSetup = `set -eu
ip link set lo up
mount -t tmpfs -o mode=0700 nettune-ansible "$1"
for d in /etc /var/lib /var/cache /usr/local /root; do
	n=$(echo "$d" | tr / _)
	mkdir -p "$1/$n/u" "$1/$n/w"
	mount -t overlay overlay -o "lowerdir=$d,upperdir=$1/$n/u,workdir=$1/$n/w" "$d"
done
mount -t tmpfs -o mode=0755 nettune-run /run
mkdir -m 0755 /run/sshd
echo ready
exec sleep 900
`

// syncBuf is sshd's log, written by exec's copying goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// netns is the test's private environment.
type netns struct {
	pid int // pid 1 of the namespace, as the host sees it
}

func startNetns(t *testing.T, ovl string) *netns {
	t.Helper()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--net", "--pid", "--fork",
		"--mount-proc", "--kill-child", "sh", "-c", nsSetup, "sh", ovl)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("setting up the namespace: %q, %v", line, err)
	}
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(kids)))
	if err != nil {
		t.Fatalf("the namespace's first process: %q: %v", kids, err)
	}
	n := &netns{pid: pid}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	return n
}

// args prefixes a command with nsenter into the namespace.
func (n *netns) args(wd string, cmd ...string) []string {
	return append([]string{"--target", strconv.Itoa(n.pid), "--mount", "--net", "--pid", "--wd=" + wd, "--"}, cmd...)
}

// exec runs a command in the namespace and returns its output and exit code.
func (n *netns) exec(t *testing.T, cmd ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("nsenter", n.args("/", cmd...)...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("nsenter %s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	return string(out), 0
}

func (n *netns) sysctl(t *testing.T, key string) string {
	t.Helper()
	out, rc := n.exec(t, "cat", "/proc/sys/"+strings.ReplaceAll(key, ".", "/"))
	if rc != 0 {
		t.Fatalf("reading %s in the namespace: exit %d\n%s", key, rc, out)
	}
	return strings.TrimSpace(out)
}

// TestAnsibleRoleOverSSHInNetns runs ansible/site.yml over SSH (the ssh
// connection plugin, not connection local) against the live kernel of a
// network namespace of this machine: an sshd of the test's own, with a host
// key and a client key made for the run, listening on 127.0.0.1 of the
// namespace, whose mount namespace covers every host path the role and
// nettune write. The profile has only per-namespace sysctls, so apply
// changes the namespace's kernel for real and the host not at all; the test
// checks both, from outside Ansible.
func TestAnsibleRoleOverSSHInNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nettune and runs ansible-playbook six times; not in -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIP: needs root (network and mount namespaces, sshd)")
	}
	needTools(t, "ansible-playbook", "go", "ssh", "ssh-keygen", "unshare", "nsenter", "ip")
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		if os.Getenv("NETTUNE_REQUIRE_ANSIBLE") == "1" {
			t.Fatalf("%s is missing and NETTUNE_REQUIRE_ANSIBLE=1: scripts/deps.sh installs openssh-server", sshd)
		}
		t.Skipf("SKIP: %s not installed (Debian: openssh-server)", sshd)
	}
	start := time.Now()
	repo := repoRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "build", "nettune")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/nettune")
	build.Dir, build.Env = repo, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	before := hostState(t)
	t.Cleanup(func() {
		after := hostState(t)
		for k, v := range before {
			if after[k] != v {
				t.Errorf("the host's %s changed:\nbefore:\n%s\nafter:\n%s", k, v, after[k])
			}
		}
	})

	ovl := filepath.Join(dir, "ns")
	sshDir := filepath.Join(dir, "ssh")
	for _, d := range []string{ovl, sshDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ns := startNetns(t, ovl)
	orig := map[string]string{}
	for k, v := range netnsProfile {
		orig[k] = ns.sysctl(t, k)
		if orig[k] == v {
			t.Fatalf("a fresh namespace already has %s %s: the profile would change nothing", k, v)
		}
	}

	// Keys made for this run: the server's host key, the client's key.
	for _, k := range []string{"host", "client"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nettune-test-"+k, "-f", filepath.Join(sshDir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub := func(k string) string {
		b, err := os.ReadFile(filepath.Join(sshDir, k+".pub"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	const port = "2222" // the namespace's own port space: nothing else listens there
	files := map[string]string{
		"authorized_keys": pub("client") + "\n",
		"known_hosts":     "[127.0.0.1]:" + port + " " + pub("host") + "\n",
		"sshd_config": strings.Join([]string{
			"ListenAddress 127.0.0.1:" + port, "HostKey " + filepath.Join(sshDir, "host"), "PidFile none",
			"UsePAM no", "PermitRootLogin prohibit-password", "PubkeyAuthentication yes",
			"PasswordAuthentication no", "KbdInteractiveAuthentication no",
			"AuthorizedKeysFile " + filepath.Join(sshDir, "authorized_keys"),
			"StrictModes no", "Subsystem sftp internal-sftp", "LogLevel INFO", ""}, "\n"),
	}
	for f, c := range files {
		if err := os.WriteFile(filepath.Join(sshDir, f), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := exec.Command("nsenter", ns.args("/", sshd, "-D", "-e", "-f", filepath.Join(sshDir, "sshd_config"))...)
	var sshdLog syncBuf
	srv.Stdout, srv.Stderr = &sshdLog, &sshdLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	srv.WaitDelay = 5 * time.Second
	t.Cleanup(func() {
		_ = syscall.Kill(ns.pid, syscall.SIGKILL) // sshd, a child of nsenter, dies with the namespace
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() && sshdLog.String() != "" {
			t.Logf("sshd:\n%s", sshdLog.String())
		}
	})
	sshOpts := "-F /dev/null -o UserKnownHostsFile=" + filepath.Join(sshDir, "known_hosts") +
		" -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes"
	for i := 0; ; i++ {
		args := append([]string{"-p", port, "-i", filepath.Join(sshDir, "client")}, strings.Fields(sshOpts)...)
		out, rc := ns.exec(t, append(append([]string{"ssh"}, args...), "root@127.0.0.1", "true")...)
		if rc == 0 {
			break
		}
		if i == 50 {
			t.Fatalf("ssh to the namespace's sshd: exit %d\n%s\nsshd:\n%s", rc, out, sshdLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	inv := filepath.Join(dir, "inventory.ini")
	if err := os.WriteFile(inv, []byte("[nettune]\nnsguest ansible_connection=ssh ansible_host=127.0.0.1 ansible_port="+port+
		" ansible_user=root ansible_become=false ansible_python_interpreter=/usr/bin/python3"+
		" ansible_ssh_private_key_file="+filepath.Join(sshDir, "client")+
		" ansible_ssh_common_args='"+sshOpts+"'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(repo, "test/ansible/testdata/netns.yaml")
	nt := "/usr/local/sbin/nettune" // the role's default for nettune_install=binary, covered in the namespace
	plays := 0
	play := func(extra ...string) (string, recap) {
		t.Helper()
		plays++
		t.Logf("%s: ansible-playbook %s", time.Since(start).Round(time.Second), strings.Join(extra, " "))
		args := []string{"-i", inv, "site.yml", "-e", "nettune_install=binary", "-e", "nettune_binary=" + bin,
			"-e", "nettune_profile=" + profile}
		tmp := t.TempDir()
		env := []string{"HOME=" + filepath.Join(tmp, "home"), "ANSIBLE_SSH_CONTROL_PATH_DIR=" + filepath.Join(tmp, "cp"),
			"ANSIBLE_REMOTE_TEMP=" + filepath.Join(tmp, "remote"), "ANSIBLE_HOST_KEY_CHECKING=True",
			"ANSIBLE_PIPELINING=True"} // one ssh session per task instead of three
		out, rc := run(t, filepath.Join(repo, "ansible"), env, "nsenter",
			ns.args(filepath.Join(repo, "ansible"), append([]string{"ansible-playbook"}, append(args, extra...)...)...)...)
		r := recaps(t, out)["nsguest"]
		if rc != 0 || r.failed != 0 || r.unreachable != 0 {
			t.Fatalf("ansible-playbook %s: exit %d\n%s", strings.Join(extra, " "), rc, out)
		}
		return out, r
	}
	checkRC := func() int {
		t.Helper()
		out, rc := ns.exec(t, nt, "check", "--diagnostics=false", "-o", "json", profile)
		if rc != 0 && rc != 2 && rc != 3 {
			t.Fatalf("nettune check in the namespace: exit %d\n%s", rc, out)
		}
		return rc
	}
	wantSysctls := func(when string, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got := ns.sysctl(t, k); got != v {
				t.Errorf("%s: the namespace's %s is %s, want %s", when, k, got, v)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}

	// First run: installs over SSH, applies to the namespace's kernel.
	out, r := play()
	if r.changed == 0 {
		t.Fatalf("first run: changed=0\n%s", out)
	}
	wantSysctls("after the first run", netnsProfile)
	if !strings.Contains(sshdLog.String(), "Accepted publickey for root") {
		t.Fatalf("the play did not log in to the namespace's sshd:\n%s", sshdLog.String())
	}
	if rc := checkRC(); rc != 0 {
		t.Fatalf("nettune check after the first run: exit %d, want 0", rc)
	}
	if conf, rc := ns.exec(t, "cat", "/etc/sysctl.d/90-nettune.conf"); rc != 0 || !strings.Contains(conf, "net.core.somaxconn") {
		t.Fatalf("the namespace's /etc/sysctl.d/90-nettune.conf (exit %d):\n%s", rc, conf)
	}
	// Second run: nothing to do.
	if out, r = play(); r.changed != 0 {
		t.Fatalf("second run: changed=%d, want 0\n%s", r.changed, out)
	}

	// Rollback: the namespace's original values, and again changed=0.
	if out, r = play("-e", "nettune_state=reverted"); r.changed == 0 {
		t.Fatalf("revert: changed=0\n%s", out)
	}
	wantSysctls("after revert", orig)
	if out, r = play("-e", "nettune_state=reverted"); r.changed != 0 {
		t.Fatalf("revert again: changed=%d, want 0\n%s", r.changed, out)
	}

	// Applied again, then a hand change, then check mode: changed, the
	// plan is the diff, and the hand change stays.
	if out, r = play(); r.changed == 0 {
		t.Fatalf("run after the revert: changed=0\n%s", out)
	}
	if out, rc := ns.exec(t, "sh", "-c", "echo 1024 > /proc/sys/net/core/somaxconn"); rc != 0 {
		t.Fatalf("hand change: exit %d\n%s", rc, out)
	}
	out, r = play("--check", "--diff")
	if r.changed == 0 {
		t.Fatalf("check mode after a hand change: changed=0\n%s", out)
	}
	if !strings.Contains(out, "-sysctl net.core.somaxconn value (live): 1024") || !strings.Contains(out, "+sysctl net.core.somaxconn value (live): 8192") {
		t.Fatalf("check mode: the diff does not show the plan for somaxconn 1024 -> 8192:\n%s", out)
	}
	wantSysctls("after check mode", map[string]string{"net.core.somaxconn": "1024"})
	if rc := checkRC(); rc != 2 {
		t.Fatalf("nettune check after check mode: exit %d, want 2 (the hand change kept)", rc)
	}
	// A normal run puts it back.
	if out, r = play(); r.changed == 0 {
		t.Fatalf("run after the hand change: changed=0\n%s", out)
	}
	wantSysctls("after the run that fixed the hand change", netnsProfile)
	if rc := checkRC(); rc != 0 {
		t.Fatalf("nettune check after the fix: exit %d, want 0", rc)
	}

	// Now generation 2 wrote 8192 over the hand change (1024), which
	// generation 1's 8192 had been changed to: revert --all stops there
	// (docs/safety.md) and the role's revert fails that host, changing
	// nothing.
	out, rc := run(t, filepath.Join(repo, "ansible"), nil, "nsenter", ns.args(filepath.Join(repo, "ansible"),
		"ansible-playbook", "-i", inv, "site.yml", "-e", "nettune_install=none", "-e", "nettune_bin="+nt,
		"-e", "nettune_state=reverted")...)
	if rc == 0 || recaps(t, out)["nsguest"].failed != 1 || !strings.Contains(out, `generation 1 wrote \"8192\" over \"4096\"`) {
		t.Fatalf("revert over a hand change: exit %d, want the host failed with generation 1's conflict:\n%s", rc, out)
	}
	wantSysctls("after the refused revert", netnsProfile)
	t.Logf("%d playbook runs over SSH in %s (with the build)", plays, time.Since(start).Round(time.Second))
}
