package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
)

// vmcheck runs the command in-process and returns its exit code and output.
func vmcheck(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String() + errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	a = "0000:00:04.0"
	b = "0000:00:05.0"
)

// Two spellings of the same facts: devicesCamel is shaped like nettune
// devices -o json (internal/cli/devices.go), devicesNested like another
// reasonable layout, so that a renamed field is not a silent pass.
const devicesCamel = `{"format_version": "1", "kind": "devices", "devices": [
 {"active": true, "address": "0000:00:04.0", "class": "0x020000", "device": "100e", "driver": "e1000",
  "driverOverride": "", "drivers": ["e1000", "vfio-pci", "uio_pci_generic"], "groupPeers": [],
  "interfaces": ["eth0"], "iommuGroup": "3", "numaNode": -1,
  "reasons": ["interface eth0 has 1 address 192.0.2.1/24"], "vendor": "8086"},
 {"active": false, "address": "0000:00:05.0", "class": "0x020000", "device": "10d3", "driver": "e1000e",
  "driverOverride": "", "drivers": ["e1000e", "vfio-pci", "uio_pci_generic"], "groupPeers": [],
  "interfaces": ["eth1"], "iommuGroup": "4", "numaNode": -1, "reasons": [], "vendor": "8086"}
]}`

const devicesNested = `{"format_version": "1", "kind": "devices", "devices": [
 {"pci": "00:04.0", "driver": "e1000", "interfaces": ["eth0"],
  "iommu": {"group": "3", "members": [{"pci": "0000:00:04.0", "driver": "e1000"}]}, "numa_node": 0,
  "active": true, "reasons": ["route 192.0.2.0/24"]},
 {"pci": "00:05.0", "driver": "e1000e", "interfaces": ["eth1"],
  "iommu": {"group": "4", "members": [{"pci": "0000:00:05.0", "driver": "e1000e"}]}, "numa_node": 0,
  "active": false}
]}`

func TestDevicesAgree(t *testing.T) {
	root := fixture.Unpack(t, "testdata/sys-iommu.txtar")
	sys := filepath.Join(root, "sys")
	for name, doc := range map[string]string{"camel": devicesCamel, "nested": devicesNested} {
		t.Run(name, func(t *testing.T) {
			f := writeFile(t, "devices.json", doc)
			code, out := vmcheck(t, "devices", "-sys", sys, "-devices", f, "-devbind", "testdata/devbind-status.txt", a, b)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			for _, want := range []string{
				`0000:00:04.0 driver "e1000"`, "0000:00:05.0 interfaces [eth1]", "0000:00:04.0 iommu group 3",
				"0000:00:05.0 iommu group members [0000:00:05.0]", "0000:00:04.0 agrees with dpdk-devbind.py",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestDevicesMismatch(t *testing.T) {
	root := fixture.Unpack(t, "testdata/sys-iommu.txtar")
	sys := filepath.Join(root, "sys")
	devbind := "testdata/devbind-status.txt"
	tests := []struct {
		name, doc, devbind, want string
	}{
		{"driver", strings.Replace(devicesCamel, `"driver": "e1000",`, `"driver": "vfio-pci",`, 1), devbind,
			`0000:00:04.0: nettune says driver "vfio-pci", sysfs says "e1000"`},
		{"interface", strings.Replace(devicesCamel, `"interfaces": ["eth1"]`, `"interfaces": ["eth7"]`, 1), devbind,
			"0000:00:05.0: nettune says interfaces [eth7], sysfs says [eth1]"},
		{"no interface", strings.Replace(devicesCamel, `"interfaces": ["eth1"],`, ``, 1), devbind,
			"0000:00:05.0: no interface in nettune's output"},
		{"group", strings.Replace(devicesCamel, `"iommuGroup": "4"`, `"iommuGroup": "5"`, 1), devbind,
			"0000:00:05.0: nettune says IOMMU group 5 (iommuGroup), sysfs says 4"},
		{"no group", strings.Replace(devicesCamel, `"iommuGroup": "4",`, ``, 1), devbind,
			"0000:00:05.0: no IOMMU group in nettune's output, sysfs has group 4"},
		{"members", strings.Replace(devicesNested, `"members": [{"pci": "0000:00:05.0", "driver": "e1000e"}]`, `"members": ["0000:00:05.0", "0000:00:06.0"]`, 1), devbind,
			"0000:00:05.0: nettune says group members [0000:00:05.0 0000:00:06.0], sysfs says [0000:00:05.0]"},
		{"peers", strings.Replace(devicesCamel, `"groupPeers": [],
  "interfaces": ["eth1"]`, `"groupPeers": ["0000:00:06.0"],
  "interfaces": ["eth1"]`, 1), devbind,
			"0000:00:05.0: nettune says group members [0000:00:06.0], sysfs says [0000:00:05.0]"},
		{"numa", strings.Replace(devicesCamel, `"numaNode": -1, "reasons": []`, `"numaNode": 1, "reasons": []`, 1), devbind,
			"0000:00:05.0: nettune says NUMA node 1 (numaNode), sysfs says -1"},
		{"no numa", strings.Replace(devicesCamel, `"numaNode": -1, "reasons": []`, `"reasons": []`, 1), devbind,
			"0000:00:05.0: no NUMA node in nettune's output"},
		{"missing device", strings.Replace(devicesCamel, `"address": "0000:00:05.0"`, `"address": "0000:00:06.0"`, 1), devbind,
			"nettune devices does not list 0000:00:05.0"},
		{"devbind driver", devicesCamel, writeFile(t, "db.txt", strings.Replace(mustRead(t, devbind), "drv=e1000e", "drv=vfio-pci", 1)),
			`0000:00:05.0: nettune says driver "e1000e", dpdk-devbind.py says "vfio-pci"`},
		{"devbind interface", devicesCamel, writeFile(t, "db.txt", strings.Replace(mustRead(t, devbind), "if=eth0 ", "", 1)),
			"0000:00:04.0: nettune says interfaces [eth0], dpdk-devbind.py says []"},
		{"devbind missing", devicesCamel, writeFile(t, "db.txt", "0000:00:04.0 'x' if=eth0 drv=e1000\n"),
			"dpdk-devbind.py --status does not list 0000:00:05.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeFile(t, "devices.json", tt.doc)
			code, out := vmcheck(t, "devices", "-sys", sys, "-devices", f, "-devbind", tt.devbind, a, b)
			if code != 1 || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, want 1 with %q:\n%s", code, tt.want, out)
			}
		})
	}
}

func TestDevicesNoIOMMU(t *testing.T) {
	root := fixture.Unpack(t, "testdata/sys-noiommu.txtar")
	sys := filepath.Join(root, "sys")
	doc := `{"devices": [
	 {"address": "0000:00:04.0", "driver": "e1000", "interfaces": ["eth0"], "iommuGroup": "", "groupPeers": [], "numaNode": -1},
	 {"address": "0000:00:05.0", "driver": "uio_pci_generic", "interfaces": [], "numaNode": -1}]}`
	f := writeFile(t, "devices.json", doc)
	if code, out := vmcheck(t, "devices", "-sys", sys, "-devices", f, a, b); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	bad := writeFile(t, "devices.json", strings.Replace(doc, `"iommuGroup": ""`, `"iommuGroup": "2"`, 1))
	code, out := vmcheck(t, "devices", "-sys", sys, "-devices", bad, a, b)
	if code != 1 || !strings.Contains(out, "nettune says IOMMU group 2, sysfs has none") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestActive(t *testing.T) {
	for name, doc := range map[string]string{"camel": devicesCamel, "nested": devicesNested} {
		f := writeFile(t, "devices.json", doc)
		if code, out := vmcheck(t, "active", "-devices", f, a, "true"); code != 0 {
			t.Errorf("%s: %s active: exit %d:\n%s", name, a, code, out)
		}
		if code, out := vmcheck(t, "active", "-devices", f, b, "false"); code != 0 {
			t.Errorf("%s: %s inactive: exit %d:\n%s", name, b, code, out)
		}
		if code, out := vmcheck(t, "active", "-devices", f, b, "true"); code != 1 || !strings.Contains(out, "active=false, want true") {
			t.Errorf("%s: exit %d:\n%s", name, code, out)
		}
	}
	noReason := writeFile(t, "devices.json", strings.Replace(devicesCamel, `"reasons": ["interface eth0 has 1 address 192.0.2.1/24"]`, `"reasons": []`, 1))
	if code, out := vmcheck(t, "active", "-devices", noReason, a, "true"); code != 1 || !strings.Contains(out, "active without a reason") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if code, _ := vmcheck(t, "active", "-devices", noReason, a, "maybe"); code != 2 {
		t.Errorf("bad want: exit %d, want 2", code)
	}
}

func TestParseDevbind(t *testing.T) {
	f, err := os.Open("testdata/devbind-status.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parseDevbind(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d entries: %+v", len(got), got)
	}
	e := got[a]
	if e.Driver != "e1000" || !sameSet(e.Interfaces, []string{"eth0"}) || !e.Active {
		t.Errorf("%s: %+v", a, e)
	}
	e = got[b]
	if e.Driver != "e1000e" || !sameSet(e.Interfaces, []string{"eth1"}) || e.Active {
		t.Errorf("%s: %+v", b, e)
	}
	unbound, err := parseDevbind(strings.NewReader("0000:00:05.0 '82574L Gigabit Network Connection 10d3' unused=e1000e,vfio-pci\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e := unbound[b]; e.Driver != "" || len(e.Interfaces) != 0 {
		t.Errorf("device without a driver: %+v", e)
	}
}

const checkDocument = `{"format_version": "1", "kind": "check", "profile": "e2e-cpu", "status": "%s", "items": [
 {"module": "cpu", "object": "cmdline", "attribute": "isolcpus", "before": "1", "after": "1", "when": "boot", "status": "ok"},
 {"module": "cpu", "object": "cmdline", "attribute": "nohz_full", "before": "", "after": "1", "when": "boot", "status": "%s", "detail": "not in /proc/cmdline"},
 {"module": "hugepages", "object": "2048kB", "attribute": "nr_hugepages", "before": "64", "after": "64", "when": "live", "status": "ok"}
], "problems": []}`

func TestCheck(t *testing.T) {
	ok := writeFile(t, "ok.json", strings.ReplaceAll(strings.Replace(checkDocument, "%s", "ok", 1), "%s", "ok"))
	drift := writeFile(t, "drift.json", strings.Replace(strings.Replace(checkDocument, "%s", "drift", 1), "%s", "drift", 1))
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-file", ok, "-status", "ok", "-module", "cpu"}, 0, "all 2 items of module cpu ok"},
		{[]string{"-file", ok, "-status", "drift,pending-reboot"}, 1, `check status "ok", want drift or pending-reboot`},
		{[]string{"-file", ok, "-module", "cpu", "-items", "not-ok"}, 1, "all 2 items of module cpu are ok"},
		{[]string{"-file", ok, "-module", "nics"}, 1, "check has no item of module nics"},
		{[]string{"-file", drift, "-status", "drift,pending-reboot", "-module", "cpu", "-items", "not-ok"}, 0, "1 of 2 items of module cpu not ok"},
		{[]string{"-file", drift, "-status", "ok", "-module", "cpu"}, 1, `drift cpu cmdline nohz_full: want "1", have "" not in /proc/cmdline`},
		{[]string{"-file", drift, "-module", "cpu", "-items", "all"}, 2, `-items "all"`},
		{[]string{"-file", drift}, 2, "need -file FILE and -status or -module"},
	}
	for _, tt := range tests {
		code, out := vmcheck(t, append([]string{"check"}, tt.args...)...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("check %v: exit %d, want %d with %q:\n%s", tt.args, code, tt.code, tt.want, out)
		}
	}
	notCheck := writeFile(t, "plan.json", `{"format_version": "1", "kind": "plan", "changes": []}`)
	if code, out := vmcheck(t, "check", "-file", notCheck, "-status", "ok"); code != 1 || !strings.Contains(out, `kind "plan", want check`) {
		t.Errorf("plan document: exit %d:\n%s", code, out)
	}
}

func TestRun(t *testing.T) {
	const summary = `{"format_version": "1", "kind": "run", "elapsed_seconds": 5.01, "mpps": 0.21,
	 "forwarded": 1052000, "leaked_mbufs": 0,
	 "ports": [
	  {"name": "p0", "rx": 526010, "tx": 526000, "dropped": 0, "generated": 32, "device": {"rxPackets": 526010, "txPackets": 526032}},
	  {"name": "p1", "rx": 526000, "tx": 526000, "dropped": 10, "generated": 32}]}`
	tests := []struct {
		name, doc string
		code      int
		want      string
	}{
		{"ok", summary, 0, "rx 1052010 = tx 1052000 + dropped 10 over 2 ports"},
		{"nested total", `{"summary": {"total": {"forwarded": 7}}, "leaks": 0}`, 0, "forwarded 7 packets"},
		{"nothing forwarded", strings.Replace(summary, `"forwarded": 1052000`, `"forwarded": 0`, 1), 1, "forwarded 0 packets, want > 0"},
		{"leak", strings.Replace(summary, `"leaked_mbufs": 0`, `"leaked_mbufs": 3`, 1), 1, "leaked_mbufs = 3, want 0"},
		{"unaccounted", strings.Replace(summary, `"rx": 526000`, `"rx": 526100`, 1), 1, "100 unaccounted for"},
		{"total differs", strings.Replace(summary, `"forwarded": 1052000`, `"forwarded": 1052064`, 1), 1, "forwarded total 1052064 differs from the ports' tx sum 1052000"},
		{"no accounting", `{"forwarded": 5}`, 1, "cannot tell whether packets leaked"},
		{"no forwarded", `{"ports": []}`, 1, "no forwarded packet count"},
		{"port without counters", strings.Replace(summary, `"dropped": 10,`, ``, 1), 1, "ports[1] lacks rx, tx or dropped"},
	}
	for _, tt := range tests {
		f := writeFile(t, "run.json", tt.doc)
		code, out := vmcheck(t, "run", "-file", f)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tt.name, code, tt.code, tt.want, out)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"devices"}, {"devices", "-x"}, {"run"}, {"active", "-devices", "f"}} {
		if code, _ := vmcheck(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzParseDevbind(f *testing.F) {
	f.Add(mustReadF(f, "testdata/devbind-status.txt"))
	f.Add("0000:00:05.0 'x' drv= if=,, unused=")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseDevbind(strings.NewReader(s))
		if err != nil {
			return
		}
		for addr, e := range got {
			if addr != e.Addr || !pciAddr.MatchString(addr) {
				t.Fatalf("entry %q has address %q", addr, e.Addr)
			}
		}
	})
}

func mustReadF(f *testing.F, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	return string(b)
}

func TestApplied(t *testing.T) {
	doc := `{"format_version": "1", "kind": "apply", "generation": 1, "applied": [
	 {"module": "hugepages", "object": "node0/hugepages-2048kB", "attribute": "nr_hugepages", "before": "0", "after": "128"},
	 {"module": "nics", "object": "eth0", "attribute": "rings/channels", "before": "rx-ring=512 tx-ring=512", "after": "rx-ring=1024 tx-ring=1024"},
	 {"module": "nics", "object": "eth1", "attribute": "coalesce", "before": "rx-usecs=100", "after": "rx-usecs=50"},
	 {"module": "devices", "object": "0000:00:04.0", "attribute": "driver", "before": "e1000 if=eth0", "after": "vfio-pci override=vfio-pci"}
	]}`
	f := writeFile(t, "apply.json", doc)
	reordered := writeFile(t, "apply2.json", strings.Replace(strings.Replace(doc,
		`{"module": "nics", "object": "eth1"`, `{"module": "devices", "object": "0000:00:05.0", "attribute": "driver", "after": "vfio-pci"},
	 {"module": "nics", "object": "eth1"`, 1), `"kind": "apply"`, `"kind": "apply"`, 1))
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-file", f, "-order", "nics,devices", "nics|eth0|rings|rx-ring=1024", "nics|eth1|coalesce|rx-usecs=50", "devices|0000:00:04.0|driver|vfio-pci"}, 0,
			"every nics change before the first devices change"},
		{[]string{"-file", f, "nics|eth1|rings|rx-ring=1024"}, 1, `no applied nics change of eth1 rings to a value containing "rx-ring=1024"`},
		{[]string{"-file", f, "nics|eth0|rings|rx-ring=2048"}, 1, `module nics applied: eth0 rings/channels "rx-ring=1024 tx-ring=1024"`},
		{[]string{"-file", reordered, "-order", "nics,devices"}, 1, "change 4 (nics) was applied after change 3 (devices)"},
		{[]string{"-file", f, "-order", "nics,sysctl"}, 1, "the apply made no sysctl change"},
		{[]string{"-file", f, "nics|eth0"}, 2, "want module|object|attribute|after"},
		{[]string{"-file", f}, 2, "need -file FILE"},
	}
	for _, tt := range tests {
		code, out := vmcheck(t, append([]string{"applied"}, tt.args...)...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("applied %v: exit %d, want %d with %q:\n%s", tt.args, code, tt.code, tt.want, out)
		}
	}
	plan := writeFile(t, "plan.json", `{"kind": "plan", "changes": []}`)
	if code, out := vmcheck(t, "applied", "-file", plan, "-order", "a,b"); code != 1 || !strings.Contains(out, `kind "plan", want apply`) {
		t.Errorf("plan document: exit %d:\n%s", code, out)
	}
}
