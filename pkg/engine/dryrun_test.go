package engine_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/cli"
	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/profile"
)

// dryRunProfile uses every module whose changes the commands of a plan
// can make under --root: sysctl values and their file, the cpu and the
// hugepages arguments on the same kernel command line, governors, pools,
// the THP mode and an fstab line.
const dryRunProfile = `apiVersion: nettune/v1
kind: Profile
metadata: {name: dry-run}
spec:
  sysctl:
    net.core.somaxconn: 8192
    vm.swappiness: 1
  cpu:
    isolated: 2-7
    power: {governor: performance}
  hugepages:
    defaultSize: 2M
    pages:
      - {size: 2M, count: 512}
    transparent: never
    mounts:
      - {path: /mnt/huge, mode: "0770"}
`

// dryRunRoot builds a host with the 1-node topology, a boot configuration
// and a few sysctls.
func dryRunRoot(t *testing.T, boot string) *host.Root {
	t.Helper()
	dir := fixture.Unpack(t, "../../testdata/hosts/topo-1node-8cpu.txtar")
	if err := fixture.UnpackTo("../../testdata/hosts/"+boot+".txtar", dir); err != nil {
		t.Fatal(err)
	}
	for rel, v := range map[string]string{"proc/sys/net/core/somaxconn": "4096\n", "proc/sys/vm/swappiness": "60\n"} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.New(dir) // an offline root, as with --root
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDryRunCommandsMatchApply plans a profile whose cpu and hugepages
// modules both edit the kernel command line, on every boot configuration,
// and runs the plan's commands in order with sh on one copy of the host
// while the engine applies the plan to another: the two trees must be
// byte for byte the same (nettune's state directory aside, which only
// apply writes). Under --root no command may reach the live host: the
// programs that only act on it (sysctl, update-grub, grubby,
// kernel-install, mount, ...) are stubs that fail the test when called.
func TestDryRunCommandsMatchApply(t *testing.T) {
	stubs := t.TempDir()
	for _, name := range []string{"sysctl", "update-grub", "grub-mkconfig", "grub2-mkconfig", "grubby", "kernel-install", "bootctl", "mount", "umount", "systemctl", "ethtool", "ip", "modprobe"} {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte("#!/bin/sh\necho \"$0 $*: reaches the live host\" >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p, err := profile.Parse("dry-run.yaml", []byte(dryRunProfile))
	if err != nil {
		t.Fatal(err)
	}
	for _, boot := range []string{"boot-debian-grub", "boot-ubuntu-grubd", "boot-rhel-bls", "boot-systemd-boot"} {
		t.Run(boot, func(t *testing.T) {
			a, b := dryRunRoot(t, boot), dryRunRoot(t, boot)
			pr, err := engine.New(fixture.Env(b), "test", cli.Modules()).Plan(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			changes := pr.Changes()
			boots := 0
			for _, c := range changes {
				if c.Object == "kernel-cmdline" {
					boots++
				}
			}
			if boots != 2 {
				t.Fatalf("want the cpu and the hugepages kernel arguments in the plan, got %d boot changes: %v", boots, changes)
			}
			if _, err := engine.New(fixture.Env(a), "test", cli.Modules()).Apply(context.Background(), p, nil); err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				if c.Command == "" {
					t.Errorf("%s %s %s has no command", c.Module, c.Object, c.Attribute)
					continue
				}
				if err := underRoot(c.Command, b.Prefix); err != "" {
					t.Fatalf("%s %s %s: refusing to run %s: %s", c.Module, c.Object, c.Attribute, c.Command, err)
				}
				cmd := exec.Command("sh", "-c", "umask 022; "+c.Command)
				cmd.Env = append(os.Environ(), "PATH="+stubs+string(os.PathListSeparator)+os.Getenv("PATH"))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s %s %s: %s: %v\n%s", c.Module, c.Object, c.Attribute, c.Command, err, out)
				}
			}
			da := fixture.Digest(t, a.Prefix, "var/lib/nettune")
			db := fixture.Digest(t, b.Prefix, "var/lib/nettune")
			if diffs := fixture.DiffDigests(da, db); len(diffs) > 0 {
				t.Errorf("the commands and apply disagree: %v", diffs)
				for _, d := range diffs {
					rel := strings.TrimPrefix(strings.TrimPrefix(d, "changed "), "added ")
					x, _ := os.ReadFile(filepath.Join(a.Prefix, rel))
					y, _ := os.ReadFile(filepath.Join(b.Prefix, rel))
					t.Errorf("%s:\napply wrote\n%s\nthe commands wrote\n%s", rel, x, y)
				}
				for _, c := range changes {
					t.Logf("%s", c.Command)
				}
			}
		})
	}
}

var redirect = regexp.MustCompile(`>>?\s*('[^']*'|[^\s;'"]+)`)

// underRoot checks, before the test runs a command as root, that what it
// writes is under the root: every redirection target, and the segment of
// every sed -i, mkdir and rm. Comments (# ...) are not run.
func underRoot(cmd, root string) string {
	for _, seg := range regexp.MustCompile(` && |; | then | else `).Split(cmd, -1) {
		if i := strings.Index(seg, "# "); i >= 0 && !strings.Contains(seg[:i], "'") {
			seg = seg[:i]
		}
		for _, m := range redirect.FindAllStringSubmatch(seg, -1) {
			if target := strings.Trim(m[1], "'"); target != "&2" && !strings.HasPrefix(target, root+"/") {
				return "writes " + target
			}
		}
		for _, w := range []string{"sed -i", "mkdir", "rm "} {
			if strings.Contains(seg, w) && !strings.Contains(seg, root+"/") {
				return "edits outside the root: " + seg
			}
		}
	}
	return ""
}
