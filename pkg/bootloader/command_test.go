package bootloader

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

// sh runs a plan's command the way an operator pastes it.
func sh(t *testing.T, cmd string) {
	t.Helper()
	c := exec.Command("sh", "-c", "umask 022; "+cmd)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

// sedLine runs relative edits in order on a one-line file.
func sedLine(t *testing.T, line string, scripts ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "line")
	if err := os.WriteFile(p, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		sh(t, sedCommand("1", s, p))
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// TestRelativeEditMatchesReplace: two modules plan their edits of one line
// from the same content; running the two scripts in either order gives
// what Replace gives when each module edits the line left by the other.
func TestRelativeEditMatchesReplace(t *testing.T) {
	type req struct{ names, args []string }
	cpu := []string{"isolcpus", "nohz_full", "rcu_nocbs", "idle"}
	hp := []string{"default_hugepagesz", "hugepagesz", "hugepages"}
	reqs := []req{
		{cpu, []string{"isolcpus=domain,managed_irq,2-7", "nohz_full=2-7"}},
		{cpu, []string{"isolcpus=2-3", "nohz_full=2-3", "rcu_nocbs=2-3", "idle=poll"}},
		{cpu, nil},
		{hp, []string{"default_hugepagesz=1G", "hugepagesz=1G", "hugepages=4"}},
		{hp, []string{"hugepagesz=2M", "hugepages=1024"}},
		{hp, nil},
	}
	lines := []string{
		"",
		"   ",
		"quiet",
		"quiet  mitigations=off",
		" quiet\tsplash  ",
		"isolcpus=1 quiet",
		"quiet isolcpus=1 hugepages=8 rcu_nocbs=1  splash",
		"hugepagesz=1G hugepages=2 hugepagesz=2M hugepages=512 quiet",
		"nohz-full=1 quiet nohz_full=1",
		"root=/dev/sda1 ro -- single",
		"hugepages=3 -- quiet",
		"idle=halt",
		"isolcpus=1 hugepages=2",
		"a&b x|y isolcpus=1",
	}
	for _, line := range lines {
		for _, shell := range []bool{false, true} {
			for i, a := range reqs {
				for j, b := range reqs {
					if (i < 3) == (j < 3) {
						continue // one request per module
					}
					l := parseLine(line, shell)
					pre, suf := "", ""
					if shell {
						pre, suf = `GRUB_CMDLINE_LINUX_DEFAULT="`, `"  # tail`
					}
					afterA := l.Replace(a.names, a.args)
					want := parseLine(afterA.String(), shell).Replace(b.names, b.args).String()
					var scripts []string
					for _, q := range []req{a, b} {
						s, ok := relativeEdit(l, pre, suf, q.names, q.args)
						if !ok {
							if l.Replace(q.names, q.args).String() != line {
								t.Errorf("%q: no relative edit for %q", line, q.args)
							}
							continue
						}
						scripts = append(scripts, s)
					}
					got := sedLine(t, pre+line+suf, scripts...)
					if got != pre+want+suf {
						t.Errorf("%q (shell %v): %q then %q:\n got %q\nwant %q", line, shell, a.args, b.args, got, pre+want+suf)
					}
				}
			}
		}
	}
}

// TestCommandsInPlanOrder plans the cpu and the hugepages arguments from
// the same boot configuration, applies both to one copy of the tree and
// runs the two commands in order on another: the trees must be the same
// byte for byte, on every boot configuration.
func TestCommandsInPlanOrder(t *testing.T) {
	for _, overlay := range []string{"boot-debian-grub", "boot-ubuntu-grubd", "boot-rhel-bls", "boot-systemd-boot"} {
		for _, variant := range []string{"as shipped", "no assignment", "no kernel/cmdline", "owned already"} {
			t.Run(overlay+"/"+variant, func(t *testing.T) {
				ra, _ := root(t, overlay)
				rb, _ := root(t, overlay)
				for _, dir := range []string{ra.Prefix, rb.Prefix} {
					prepare(t, dir, overlay, variant)
				}
				rb.Exec = host.OfflineRunner{Root: rb.Prefix} // as with --root
				var cmds []string
				for _, q := range []Request{cpuReq, hpReq} {
					ca := mustPlan(t, ra, q).Item.Change
					cb := mustPlan(t, rb, q).Item
					if cb.Status != plan.Drift {
						t.Fatalf("%s: %+v", q.Module, cb)
					}
					cmds = append(cmds, cb.Command)
					if err := Apply(context.Background(), testEnv(ra), ca); err != nil {
						t.Fatal(err)
					}
				}
				for _, c := range cmds {
					if !strings.Contains(c, rb.Prefix+"/") || strings.Contains(c, " /etc/") {
						t.Fatalf("refusing to run a command outside the root: %s", c)
					}
					if strings.Contains(strings.SplitN(c, " # ", 2)[0], "update-grub") {
						t.Errorf("offline command runs the regeneration: %s", c)
					}
					sh(t, c)
				}
				a := fixture.Digest(t, ra.Prefix, "var/lib/nettune")
				b := fixture.Digest(t, rb.Prefix, "var/lib/nettune")
				if diffs := fixture.DiffDigests(a, b); len(diffs) > 0 {
					t.Errorf("commands %q differ from apply: %v", cmds, diffs)
					for _, f := range []string{"etc/default/grub", "etc/kernel/cmdline"} {
						x, _ := os.ReadFile(filepath.Join(ra.Prefix, f))
						y, _ := os.ReadFile(filepath.Join(rb.Prefix, f))
						if string(x) != string(y) {
							t.Errorf("%s: apply wrote\n%s\ncommands wrote\n%s", f, x, y)
						}
					}
				}
			})
		}
	}
}

// prepare turns a boot fixture into a variant of itself.
func prepare(t *testing.T, dir, overlay, variant string) {
	t.Helper()
	edit := func(rel string, f func(string) string) {
		p := filepath.Join(dir, rel)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	switch {
	case variant == "no assignment" && (overlay == "boot-debian-grub" || overlay == "boot-rhel-bls"):
		edit("etc/default/grub", func(s string) string {
			var keep []string
			for _, l := range strings.SplitAfter(s, "\n") {
				if !strings.HasPrefix(l, "GRUB_CMDLINE_LINUX") {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "")
		})
	case variant == "no kernel/cmdline" && overlay == "boot-systemd-boot":
		if err := os.Remove(filepath.Join(dir, "etc/kernel/cmdline")); err != nil {
			t.Fatal(err)
		}
	case variant == "owned already":
		for _, rel := range []string{"etc/default/grub", "etc/kernel/cmdline"} {
			if _, err := os.Stat(filepath.Join(dir, rel)); err != nil || overlay == "boot-ubuntu-grubd" {
				continue
			}
			edit(rel, func(s string) string {
				s = strings.Replace(s, `GRUB_CMDLINE_LINUX_DEFAULT="quiet`, `GRUB_CMDLINE_LINUX_DEFAULT="hugepages=1 quiet isolcpus=3 nohz_full=3`, 1)
				s = strings.Replace(s, `GRUB_CMDLINE_LINUX="crashkernel`, `GRUB_CMDLINE_LINUX="rcu_nocbs=3 hugepagesz=2M hugepages=64 crashkernel`, 1)
				return strings.Replace(s, "rw quiet\n", "rw hugepages=16 quiet isolcpus=1 hugepagesz=2M\n", 1)
			})
		}
	}
}
