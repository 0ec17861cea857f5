package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// sysDevice is what sysfs says about one PCI function.
type sysDevice struct {
	Addr       string
	Driver     string // "" without a driver
	Interfaces []string
	IOMMUGroup int // -1 without an IOMMU
	Members    []string
	NUMANode   int
}

// readSysDevice reads a PCI function under sys (normally /sys).
func readSysDevice(sys, addr string) (sysDevice, error) {
	dir := filepath.Join(sys, "bus", "pci", "devices", addr)
	if _, err := os.Stat(dir); err != nil {
		return sysDevice{}, fmt.Errorf("pci device %s: %w", addr, err)
	}
	d := sysDevice{Addr: addr, IOMMUGroup: -1, NUMANode: -1}
	if l, err := os.Readlink(filepath.Join(dir, "driver")); err == nil {
		d.Driver = filepath.Base(l)
	}
	d.Interfaces = dirNames(filepath.Join(dir, "net"))
	if l, err := os.Readlink(filepath.Join(dir, "iommu_group")); err == nil {
		n, err := strconv.Atoi(filepath.Base(l))
		if err != nil {
			return d, fmt.Errorf("pci device %s: iommu_group link %q: %w", addr, l, err)
		}
		d.IOMMUGroup = n
		d.Members = dirNames(filepath.Join(dir, "iommu_group", "devices"))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "numa_node")); err == nil {
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return d, fmt.Errorf("pci device %s: numa_node %q: %w", addr, b, err)
		}
		d.NUMANode = n
	}
	return d, nil
}

func dirNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// devbindEntry is one device line of dpdk-devbind.py --status.
type devbindEntry struct {
	Addr       string
	Driver     string
	Interfaces []string
	Active     bool
}

var (
	devbindLine = regexp.MustCompile(`^([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]) '[^']*'(.*)$`)
	pciAddr     = regexp.MustCompile(`^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$`)
)

// fullAddr adds the PCI domain to a short address.
func fullAddr(s string) string {
	s = strings.ToLower(s)
	if strings.Count(s, ":") == 1 {
		return "0000:" + s
	}
	return s
}

// parseDevbind reads dpdk-devbind.py --status output, for example
//
//	0000:00:04.0 '82540EM Gigabit Ethernet Controller 100e' if=eth0 drv=e1000 unused=vfio-pci *Active*
//	0000:00:05.0 '82574L Gigabit Network Connection 10d3' drv=vfio-pci unused=e1000e
func parseDevbind(r io.Reader) (map[string]devbindEntry, error) {
	out := map[string]devbindEntry{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := devbindLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		e := devbindEntry{Addr: strings.ToLower(m[1])}
		for _, tok := range strings.Fields(m[2]) {
			k, v, _ := strings.Cut(tok, "=")
			switch k {
			case "drv":
				e.Driver = v
			case "if":
				e.Interfaces = strings.Split(v, ",")
			case "*Active*":
				e.Active = true
			}
		}
		out[e.Addr] = e
	}
	return out, sc.Err()
}

// shortAddr drops the PCI domain 0000: nettune and DPDK accept both forms.
func shortAddr(addr string) string { return strings.TrimPrefix(addr, "0000:") }

// The keys under which a device document may carry each value; see
// normKey for the folding.
var (
	driverKeys    = []string{"driver", "currentDriver", "boundDriver"}
	interfaceKeys = []string{"interfaces", "interface", "ifaces", "iface", "ifnames", "ifname", "netdevs", "netdev"}
	iommuKeys     = []string{"iommuGroup", "iommuGroupId", "iommuGroupNumber", "iommuGroupGroup", "iommuGroupID"}
	membersKeys   = []string{"groupPeers", "iommuGroupPeers", "iommuGroupMembers", "iommuMembers", "groupMembers", "iommuGroupDevices", "members", "peers"}
	numaKeys      = []string{"numaNode", "numa", "node"}
	activeKeys    = []string{"active"}
	reasonKeys    = []string{"activeReason", "reason", "reasons", "why"}
)

// findDevice finds the description of addr in a nettune devices document.
func findDevice(doc any, addr string) (fields, error) {
	f, ok := findByValue(doc, addr, shortAddr(addr))
	if !ok {
		return nil, fmt.Errorf("nettune devices does not list %s", addr)
	}
	return f, nil
}

// intField returns the first alias whose value is an integer.
func intField(f fields, aliases ...string) (int64, string, bool) {
	for _, a := range aliases {
		if v, ok := f[normKey(a)]; ok && v != nil {
			if n, ok := asInt(v); ok {
				return n, a, true
			}
		}
	}
	return 0, "", false
}

// memberAddrs reads a member list: PCI addresses as strings, or objects
// that hold one.
func memberAddrs(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	var out []string
	for _, e := range list {
		switch x := e.(type) {
		case string:
			if !pciAddr.MatchString(x) {
				return nil, false
			}
			out = append(out, fullAddr(x))
		case map[string]any:
			found := false
			for _, fv := range x {
				if s, ok := fv.(string); ok && pciAddr.MatchString(s) {
					out = append(out, fullAddr(s))
					found = true
					break
				}
			}
			if !found {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return out, true
}

// compareDevice checks one device of nettune's document against sysfs and,
// when given, dpdk-devbind.py. It returns the lines it verified.
func compareDevice(f fields, sd sysDevice, db *devbindEntry) ([]string, error) {
	var ok []string
	addr := sd.Addr

	var drv string
	if v, key, found := f.get(driverKeys...); found {
		s, isStr := v.(string)
		if !isStr {
			return nil, fmt.Errorf("%s: %s is %v, not a string", addr, key, v)
		}
		drv = s
		if sd.Driver == "" && (s == "none" || s == "-") {
			drv = ""
		}
	} else if sd.Driver != "" {
		return nil, fmt.Errorf("%s: no driver in nettune's output (keys: %s)", addr, f.keys())
	}
	if drv != sd.Driver {
		return nil, fmt.Errorf("%s: nettune says driver %q, sysfs says %q", addr, drv, sd.Driver)
	}
	ok = append(ok, fmt.Sprintf("%s driver %q", addr, drv))

	var ifs []string
	if v, key, found := f.get(interfaceKeys...); found {
		var isList bool
		ifs, isList = asStrings(v)
		if !isList {
			return nil, fmt.Errorf("%s: %s is %v, not a name or a list of names", addr, key, v)
		}
	} else if len(sd.Interfaces) > 0 {
		return nil, fmt.Errorf("%s: no interface in nettune's output, sysfs has %v (keys: %s)", addr, sd.Interfaces, f.keys())
	}
	if !sameSet(ifs, sd.Interfaces) {
		return nil, fmt.Errorf("%s: nettune says interfaces %v, sysfs says %v", addr, ifs, sd.Interfaces)
	}
	ok = append(ok, fmt.Sprintf("%s interfaces %v", addr, ifs))

	grp, gkey, gfound := intField(f, iommuKeys...)
	switch {
	case sd.IOMMUGroup >= 0 && !gfound:
		return nil, fmt.Errorf("%s: no IOMMU group in nettune's output, sysfs has group %d (keys: %s)", addr, sd.IOMMUGroup, f.keys())
	case sd.IOMMUGroup >= 0 && grp != int64(sd.IOMMUGroup):
		return nil, fmt.Errorf("%s: nettune says IOMMU group %d (%s), sysfs says %d", addr, grp, gkey, sd.IOMMUGroup)
	case sd.IOMMUGroup < 0 && gfound && grp >= 0:
		return nil, fmt.Errorf("%s: nettune says IOMMU group %d, sysfs has none", addr, grp)
	}
	ok = append(ok, fmt.Sprintf("%s iommu group %d", addr, sd.IOMMUGroup))

	if v, key, found := f.get(membersKeys...); found && sd.IOMMUGroup >= 0 {
		m, isList := memberAddrs(v)
		if !isList {
			return nil, fmt.Errorf("%s: %s is %v, not a list of devices", addr, key, v)
		}
		var others []string
		for _, s := range sd.Members {
			if s != addr {
				others = append(others, s)
			}
		}
		if !sameSet(m, sd.Members) && !sameSet(m, others) {
			return nil, fmt.Errorf("%s: nettune says group members %v, sysfs says %v", addr, m, sd.Members)
		}
		ok = append(ok, fmt.Sprintf("%s iommu group members %v", addr, sd.Members))
	}

	node, nkey, nfound := intField(f, numaKeys...)
	switch {
	case !nfound:
		return nil, fmt.Errorf("%s: no NUMA node in nettune's output (keys: %s)", addr, f.keys())
	case node == int64(sd.NUMANode):
	case sd.NUMANode == -1 && node == 0:
		// The firmware does not say; on a one-node guest node 0 is the
		// truth, and -1 is what sysfs shows. Both are correct.
	default:
		return nil, fmt.Errorf("%s: nettune says NUMA node %d (%s), sysfs says %d", addr, node, nkey, sd.NUMANode)
	}
	ok = append(ok, fmt.Sprintf("%s numa node %d (sysfs %d)", addr, node, sd.NUMANode))

	if db != nil {
		if db.Driver != drv {
			return nil, fmt.Errorf("%s: nettune says driver %q, dpdk-devbind.py says %q", addr, drv, db.Driver)
		}
		if !sameSet(db.Interfaces, ifs) {
			return nil, fmt.Errorf("%s: nettune says interfaces %v, dpdk-devbind.py says %v", addr, ifs, db.Interfaces)
		}
		ok = append(ok, fmt.Sprintf("%s agrees with dpdk-devbind.py", addr))
	}
	return ok, nil
}

func cmdDevices(args []string, out io.Writer) error {
	fs := newFlags("devices")
	devicesFile := fs.String("devices", "", "nettune devices -o json output")
	devbindFile := fs.String("devbind", "", "dpdk-devbind.py --status output (optional)")
	sys := fs.String("sys", "/sys", "sysfs mount")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *devicesFile == "" || fs.NArg() == 0 {
		return usageError{"need -devices FILE and at least one PCI address"}
	}
	doc, err := readJSON(*devicesFile)
	if err != nil {
		return err
	}
	var db map[string]devbindEntry
	if *devbindFile != "" {
		f, err := os.Open(*devbindFile)
		if err != nil {
			return err
		}
		db, err = parseDevbind(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", *devbindFile, err)
		}
	}
	for _, addr := range fs.Args() {
		sd, err := readSysDevice(*sys, addr)
		if err != nil {
			return err
		}
		f, err := findDevice(doc, addr)
		if err != nil {
			return err
		}
		var dbe *devbindEntry
		if db != nil {
			e, ok := db[addr]
			if !ok {
				return fmt.Errorf("dpdk-devbind.py --status does not list %s", addr)
			}
			dbe = &e
		}
		lines, err := compareDevice(f, sd, dbe)
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Fprintln(out, "ok:", l)
		}
	}
	return nil
}

func cmdActive(args []string, out io.Writer) error {
	fs := newFlags("active")
	devicesFile := fs.String("devices", "", "nettune devices -o json output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *devicesFile == "" || fs.NArg() != 2 {
		return usageError{"need -devices FILE ADDR true|false"}
	}
	addr := fs.Arg(0)
	want, err := strconv.ParseBool(fs.Arg(1))
	if err != nil {
		return usageError{fmt.Sprintf("want %q: not true or false", fs.Arg(1))}
	}
	doc, err := readJSON(*devicesFile)
	if err != nil {
		return err
	}
	f, err := findDevice(doc, addr)
	if err != nil {
		return err
	}
	v, _, found := f.get(activeKeys...)
	if !found {
		return fmt.Errorf("%s: no active flag in nettune's output (keys: %s)", addr, f.keys())
	}
	got, isBool := v.(bool)
	if !isBool {
		return fmt.Errorf("%s: active is %v, not a boolean", addr, v)
	}
	if got != want {
		return fmt.Errorf("%s: nettune says active=%v, want %v", addr, got, want)
	}
	if got {
		r, _, found := f.get(reasonKeys...)
		rs, _ := asStrings(r)
		if !found || len(rs) == 0 || strings.TrimSpace(strings.Join(rs, "")) == "" {
			return fmt.Errorf("%s: active without a reason (keys: %s)", addr, f.keys())
		}
		fmt.Fprintf(out, "ok: %s active: %s\n", addr, strings.Join(rs, "; "))
		return nil
	}
	fmt.Fprintf(out, "ok: %s not active\n", addr)
	return nil
}
