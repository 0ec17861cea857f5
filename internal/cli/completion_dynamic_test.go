package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/spf13/cobra"
)

const (
	multiFixture  = "../../pkg/nics/testdata/multi.txtar"
	devbindModels = "../../pkg/devbind/testdata/pf-siblings.txtar"
)

// completion is what cobra's hidden __complete command answers: the
// candidates, each with its description after a tab, and the directive.
type completion struct {
	values    []string
	described map[string]string
	directive cobra.ShellCompDirective
}

// complete asks nettune for the completions of the last word of args, as
// the shell scripts do (nettune __complete ARGS... WORD).
func complete(t *testing.T, args ...string) completion {
	t.Helper()
	r := run(t, "", false, append([]string{cobra.ShellCompRequestCmd}, args...)...)
	if r.code != ExitOK {
		t.Fatalf("__complete %q: exit %d %s", args, r.code, r.stderr)
	}
	c := completion{described: map[string]string{}}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	d, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		t.Fatalf("__complete %q: no directive line:\n%s", args, r.stdout)
	}
	c.directive = cobra.ShellCompDirective(d)
	for _, l := range lines[:len(lines)-1] {
		v, desc, _ := strings.Cut(l, "\t")
		c.values = append(c.values, v)
		c.described[v] = desc
	}
	return c
}

func (c completion) want(t *testing.T, what string, values []string, directive cobra.ShellCompDirective) {
	t.Helper()
	if !reflect.DeepEqual(c.values, values) || c.directive != directive {
		t.Errorf("%s: got %q (directive %d), want %q (directive %d)", what, c.values, c.directive, values, directive)
	}
}

var shippedNames = []string{"dpdk-forwarder", "kernel-low-latency", "kernel-throughput", "null-forwarder", "safe-default"}

// TestCompleteProfiles: the operator's profiles under --root, then the
// shipped ones, each name once, with descriptions, for every verb that
// takes a profile; a path completes as a file.
func TestCompleteProfiles(t *testing.T) {
	root := fixture.Unpack(t, hostFixture)
	dir := filepath.Join(root, "etc/nettune/profiles")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "edge.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: edge, description: Edge routers in rack 4.}\nextends: kernel-throughput\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "safe-default.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: safe-default}\nextends: safe-default\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: broken}\nspec: {sysctll: {}}\n"), 0o644)
	before := fixture.Digest(t, root)

	all := append([]string{"broken", "edge", "safe-default"}, shippedNames[:4]...)
	for _, verb := range [][]string{{"validate"}, {"plan"}, {"apply"}, {"check"}, {"exporter"}, {"install"}, {"run"}, {"profile", "show"}} {
		args := append([]string{"--root", root}, verb...)
		c := complete(t, append(args, "")...)
		c.want(t, strings.Join(verb, " "), all, cobra.ShellCompDirectiveDefault)
		if c.described["edge"] != "Edge routers in rack 4." || !strings.HasPrefix(c.described["broken"], "invalid: ") || c.described["kernel-throughput"] == "" {
			t.Errorf("%s: descriptions %q", verb, c.described)
		}
	}
	complete(t, "apply", "--root", root, "kernel-").want(t, "apply kernel-", []string{"kernel-low-latency", "kernel-throughput"}, cobra.ShellCompDirectiveDefault)
	complete(t, "apply", "--root", root, "./").want(t, "apply ./ (a file)", nil, cobra.ShellCompDirectiveDefault)
	complete(t, "apply", "--root", root, "nosuch").want(t, "apply nosuch (files)", nil, cobra.ShellCompDirectiveDefault)
	complete(t, "apply", "--root", root, "edge", "").want(t, "apply edge (one profile only)", nil, cobra.ShellCompDirectiveNoFileComp)

	// Another root, another /etc/nettune/profiles: only the shipped ones.
	other := fixture.Unpack(t, hostFixture)
	complete(t, "--root", other, "plan", "").want(t, "plan on a root without /etc/nettune/profiles", shippedNames, cobra.ShellCompDirectiveDefault)

	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Errorf("completion changed the root: %v", diffs)
	}
}

// TestCompleteFlagValues: -o, --log-level and --hugepages take fixed
// values, wherever the flag is.
func TestCompleteFlagValues(t *testing.T) {
	complete(t, "version", "-o", "").want(t, "-o", []string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp)
	complete(t, "-o", "j").want(t, "-o j", []string{"json"}, cobra.ShellCompDirectiveNoFileComp)
	complete(t, "devices", "--output=y").want(t, "--output=y", []string{"yaml"}, cobra.ShellCompDirectiveNoFileComp)
	complete(t, "plan", "--log-level", "").want(t, "--log-level", []string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp)
	complete(t, "profile", "generate", "--hugepages", "").want(t, "--hugepages", []string{"2M", "1G"}, cobra.ShellCompDirectiveNoFileComp)
	complete(t, "--root", "").want(t, "--root", nil, cobra.ShellCompDirectiveFilterDirs)
}

// TestCompleteNICs: the interfaces of --root's /sys/class/net (not the
// bonding_masters file), with their drivers.
func TestCompleteNICs(t *testing.T) {
	root := fixture.Unpack(t, multiFixture)
	nics := []string{"enp175s0f0", "ens1f0", "ens2", "ens3", "eth0", "lo", "veth0"}
	complete(t, "--root", root, "show", "").want(t, "show", nics, cobra.ShellCompDirectiveNoFileComp)
	c := complete(t, "irqs", "--root", root, "ens")
	c.want(t, "irqs ens", []string{"ens1f0", "ens2", "ens3"}, cobra.ShellCompDirectiveNoFileComp)
	if c.described["ens1f0"] != "i40e" || c.described["ens2"] != "ice" {
		t.Errorf("irqs ens: descriptions %q", c.described)
	}
	complete(t, "--root", root, "show", "eth0", "").want(t, "show eth0 (one NIC only)", nil, cobra.ShellCompDirectiveNoFileComp)

	other := fixture.Unpack(t, hostFixture)
	if c := complete(t, "--root", other, "show", ""); reflect.DeepEqual(c.values, nics) {
		t.Errorf("show on another root offers the first root's NICs: %q", c.values)
	}

	c = complete(t, "--root", root, "profile", "generate", "--nic", "")
	want := append(append([]string{}, nics...), "0000:00:03.0", "0000:03:00.0", "0000:3b:00.0", "0000:5e:00.0", "0000:af:00.0", "0000:d8:00.0")
	c.want(t, "profile generate --nic", want, cobra.ShellCompDirectiveNoFileComp)
}

// TestCompletePCI: bind offers the devices nettune devices lists (the
// NVMe disk left out), not those already named; unbind the devices on a
// userspace driver.
func TestCompletePCI(t *testing.T) {
	root := fixture.Unpack(t, multiFixture)
	before := fixture.Digest(t, root)
	c := complete(t, "--root", root, "bind", "--driver", "vfio-pci", "")
	c.want(t, "bind", []string{"0000:00:03.0", "0000:03:00.0", "0000:3b:00.0", "0000:5e:00.0", "0000:af:00.0", "0000:d8:00.0"}, cobra.ShellCompDirectiveNoFileComp)
	if c.described["0000:03:00.0"] != "ixgbe eth0" || c.described["0000:d8:00.0"] != "vfio-pci" {
		t.Errorf("bind: descriptions %q", c.described)
	}
	complete(t, "--root", root, "bind", "03:00.0", "0000:3").want(t, "bind 03:00.0 0000:3", []string{"0000:3b:00.0"}, cobra.ShellCompDirectiveNoFileComp)
	complete(t, "--root", root, "unbind", "").want(t, "unbind", []string{"0000:d8:00.0"}, cobra.ShellCompDirectiveNoFileComp)
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, root)); len(diffs) > 0 {
		t.Errorf("completion changed the root: %v", diffs)
	}
}

// TestCompleteDrivers: bind --driver offers the userspace drivers and the
// named devices' kernel drivers (bound, or by modalias for a device
// without a driver); unbind --driver only the kernel ones.
func TestCompleteDrivers(t *testing.T) {
	userspace := []string{"vfio-pci", "uio_pci_generic", "igb_uio"}
	multi := fixture.Unpack(t, multiFixture)
	complete(t, "--root", multi, "bind", "eth0", "--driver", "").want(t, "bind eth0 --driver", append(userspace, "ixgbe"), cobra.ShellCompDirectiveNoFileComp)
	complete(t, "--root", multi, "bind", "--driver", "").want(t, "bind --driver (no device yet)", append(userspace, "i40e", "ice", "ixgbe", "mlx5_core", "virtio-pci"), cobra.ShellCompDirectiveNoFileComp)
	complete(t, "--root", multi, "bind", "0000:03:00.0", "--driver", "v").want(t, "bind --driver v", []string{"vfio-pci"}, cobra.ShellCompDirectiveNoFileComp)

	models := fixture.Unpack(t, devbindModels)
	complete(t, "--root", models, "bind", "08:00.0", "--driver", "").want(t, "bind 08:00.0 (no driver) --driver", append(userspace, "i40e"), cobra.ShellCompDirectiveNoFileComp)
	complete(t, "--root", models, "unbind", "08:00.0", "--driver", "").want(t, "unbind 08:00.0 --driver", []string{"i40e"}, cobra.ShellCompDirectiveNoFileComp)
}

// TestCompletionScriptLoads: the generated bash script still defines
// nettune's completion in bash.
func TestCompletionScriptLoads(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	r := run(t, "", false, "completion", "bash")
	if r.code != ExitOK {
		t.Fatalf("completion bash: %d %s", r.code, r.stderr)
	}
	script := filepath.Join(t.TempDir(), "nettune.bash")
	os.WriteFile(script, []byte(r.stdout), 0o644)
	out, err := exec.Command(bash, "-c", `source "$1" && complete -p nettune`, "bash", script).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "nettune") {
		t.Fatalf("bash could not load the script: %v\n%s", err, out)
	}
}
