package profile

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	pciRe     = regexp.MustCompile(`^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$`)
	ifnameRe  = regexp.MustCompile(`^[^/\s:]{1,15}$`)
	karg      = regexp.MustCompile(`^[A-Za-z0-9_.\-]+(=[^\s"]*)?$`)
	sysctlEl  = regexp.MustCompile(`^[^\s\v\x{85}\p{Z}/]+$`)
	octalMode = regexp.MustCompile(`^0?[0-7]{3,4}$`)
)

// IsPCIAddress reports whether s is a PCI address in full (0000:03:00.0) or
// short (03:00.0) form.
func IsPCIAddress(s string) bool { return pciRe.MatchString(s) }

// NormalizePCI returns the full form of a PCI address.
func NormalizePCI(s string) string {
	s = strings.ToLower(s)
	if strings.Count(s, ":") == 1 {
		return "0000:" + s
	}
	return s
}

type validator struct {
	files map[*yaml.Node]string
	root  *yaml.Node
	src   string
	errs  ErrorList
}

// fail records an error at the node found by following segs from the root.
func (v *validator) fail(segs []string, format string, args ...any) {
	n := locate(v.root, segs)
	e := &Error{File: v.src, Path: renderPath(segs), Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
		if f, ok := v.files[n]; ok {
			e.File = f
		}
	}
	v.errs = append(v.errs, e)
}

func renderPath(segs []string) string {
	var b strings.Builder
	for _, s := range segs {
		if strings.HasPrefix(s, "[") {
			b.WriteString(s)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// locate follows segments ("spec", "nics", "[0]", "match") through a node
// tree and returns the deepest node reached.
func locate(n *yaml.Node, segs []string) *yaml.Node {
	cur := n
	for _, s := range segs {
		if cur == nil {
			return nil
		}
		if cur.Kind == yaml.AliasNode {
			cur = cur.Alias
		}
		if idx, ok := strings.CutPrefix(s, "["); ok {
			i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			if err != nil || cur.Kind != yaml.SequenceNode || i >= len(cur.Content) {
				return cur
			}
			cur = cur.Content[i]
			continue
		}
		if cur.Kind != yaml.MappingNode {
			return cur
		}
		var next *yaml.Node
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == s {
				next = cur.Content[i+1]
				if next.Kind == yaml.ScalarNode || isNull(next) {
					// Point at the value of scalars, at the key otherwise.
					return next
				}
			}
		}
		if next == nil {
			return cur
		}
		cur = next
	}
	return cur
}

func idx(i int) string { return fmt.Sprintf("[%d]", i) }

// validate runs the checks that need no host.
func (p *Profile) validate(files map[*yaml.Node]string, root *yaml.Node, src string) ErrorList {
	v := &validator{files: files, root: root, src: src}
	if strings.TrimSpace(p.Metadata.Name) == "" {
		v.fail([]string{"metadata", "name"}, "must not be empty")
	}
	s := &p.Spec
	for name := range s.Sysctl {
		if err := CheckSysctlName(name); err != nil {
			v.fail([]string{"spec", "sysctl", name}, "%v", err)
		}
	}
	if c := s.CPU; c != nil {
		segs := []string{"spec", "cpu"}
		if both := c.Isolated.Intersect(c.Housekeeping); !both.IsEmpty() {
			v.fail(append(segs, "housekeeping"), "CPUs %s are both isolated and housekeeping", both)
		}
		if c.Isolated.Contains(0) && !c.AllowCPU0 {
			v.fail(append(segs, "isolated"), "CPU 0 should stay a housekeeping CPU (it takes timers and boot-time IRQs); set allowIsolatingCPU0: true to isolate it anyway")
		}
		for i, a := range c.KernelArgs {
			if !karg.MatchString(a) {
				v.fail(append(segs, "kernelArgs", idx(i)), "%q is not a single kernel argument (name or name=value, no spaces or quotes)", a)
			}
		}
	}
	if h := s.Hugepages; h != nil {
		seen := map[string]int{}
		for i, pg := range h.Pages {
			key := pg.Size.String() + " on all nodes"
			if pg.Node != nil {
				key = fmt.Sprintf("%s on node %d", pg.Size, *pg.Node)
			}
			if j, dup := seen[key]; dup {
				v.fail([]string{"spec", "hugepages", "pages", idx(i)}, "second pool for %s (first at pages[%d])", key, j)
			}
			seen[key] = i
		}
		for i, m := range h.Mounts {
			segs := []string{"spec", "hugepages", "mounts", idx(i)}
			if !path.IsAbs(m.Path) || path.Clean(m.Path) != m.Path {
				v.fail(append(segs, "path"), "%q must be a clean absolute path", m.Path)
			}
			if m.Mode != "" && !octalMode.MatchString(m.Mode) {
				v.fail(append(segs, "mode"), "%q is not an octal mode such as \"1770\"", m.Mode)
			}
		}
	}
	for i, n := range s.NICs {
		segs := []string{"spec", "nics", idx(i)}
		m := n.Match
		if m.Name == "" && m.PCI == "" && m.Driver == "" && m.MAC == "" {
			v.fail(append(segs, "match"), "needs at least one of name, pci, driver, mac")
		}
		if m.Name != "" {
			if _, err := path.Match(m.Name, ""); err != nil {
				v.fail(append(segs, "match", "name"), "bad glob %q: %v", m.Name, err)
			}
		}
		if m.PCI != "" && !IsPCIAddress(m.PCI) {
			v.fail(append(segs, "match", "pci"), "%q is not a PCI address (0000:03:00.0 or 03:00.0)", m.PCI)
		}
		if m.MAC != "" {
			if _, err := net.ParseMAC(m.MAC); err != nil {
				v.fail(append(segs, "match", "mac"), "%q is not a MAC address", m.MAC)
			}
		}
		if n.IRQAffinity != nil && n.IRQAffinity.Strategy == "cpus" && n.IRQAffinity.CPUs.IsEmpty() {
			v.fail(append(segs, "irqAffinity", "cpus"), "strategy cpus needs a CPU list")
		}
		v.validateSteering(segs, n)
	}
	seenDev := map[string]int{}
	for i, d := range s.Devices {
		segs := []string{"spec", "devices", idx(i)}
		if d.PF != "" || d.VF != nil {
			if key, ok := v.validateVFDevice(segs, d); ok {
				if j, dup := seenDev[key]; dup {
					v.fail(append(segs, "vf"), "VF %s is already listed at devices[%d]", key, j)
				}
				seenDev[key] = i
			}
			continue
		}
		if !IsPCIAddress(d.PCI) && !ifnameRe.MatchString(d.PCI) {
			v.fail(append(segs, "pci"), "%q is neither a PCI address nor an interface name", d.PCI)
		}
		key := d.PCI
		if IsPCIAddress(key) {
			key = NormalizePCI(key)
		}
		if j, dup := seenDev[key]; dup {
			v.fail(append(segs, "pci"), "device %s is already listed at devices[%d]", d.PCI, j)
		}
		seenDev[key] = i
	}
	if dp := s.Dataplane; dp != nil {
		v.validateDataplane(dp)
	}
	v.validateSRIOV(s.SRIOV)
	return v.errs
}

func (v *validator) validateDataplane(dp *Dataplane) {
	names := map[string]bool{}
	for i, p := range dp.Ports {
		segs := []string{"spec", "dataplane", "ports", idx(i)}
		if names[p.Name] {
			v.fail(append(segs, "name"), "duplicate port name %q", p.Name)
		}
		names[p.Name] = true
		kinds := 0
		for _, set := range []bool{p.PCI != "", p.Vdev != "", p.PF != "" || p.VF != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			v.fail(segs, "a port needs exactly one of pci, vdev, and pf with vf")
		}
		if (p.PF != "") != (p.VF != nil) {
			v.fail(segs, "a VF port needs both pf and vf")
		}
		if p.PF != "" && !IsPCIAddress(p.PF) {
			v.fail(append(segs, "pf"), "%q is not a PCI address", p.PF)
		}
		if p.PCI != "" && !IsPCIAddress(p.PCI) {
			v.fail(append(segs, "pci"), "%q is not a PCI address", p.PCI)
		}
		if p.Vdev != "" && !strings.HasPrefix(p.Vdev, "net_") {
			v.fail(append(segs, "vdev"), "%q is not a DPDK network vdev (net_null0, net_ring0, net_af_packet0,iface=..., net_af_xdp0,iface=..., net_tap0)", p.Vdev)
		}
		if p.PeerMAC != "" {
			if _, err := net.ParseMAC(p.PeerMAC); err != nil {
				v.fail(append(segs, "peerMAC"), "%q is not a MAC address", p.PeerMAC)
			}
		}
	}
	for i, pair := range dp.Pairs {
		segs := []string{"spec", "dataplane", "pairs", idx(i)}
		if len(pair) != 2 {
			v.fail(segs, "a pair names exactly two ports, got %d", len(pair))
			continue
		}
		for _, n := range pair {
			if !names[n] {
				v.fail(segs, "unknown port %q", n)
			}
		}
	}
	// The vector rx paths of Intel PMDs return nothing for fewer than 4
	// (dataplane.MinBurst, which nettune run enforces too).
	if dp.Burst > 0 && dp.Burst < 4 {
		v.fail([]string{"spec", "dataplane", "burst"}, "burst %d is below 4: the vector receive paths of Intel PMDs return no packets for bursts under 4; use 4 or more (default 32), or leave it out", dp.Burst)
	}
	if len(dp.Pairs) == 0 && len(dp.Ports)%2 != 0 && len(dp.Ports) > 1 {
		v.fail([]string{"spec", "dataplane", "ports"}, "an odd number of ports cannot be paired two by two; list pairs explicitly")
	}
}

// CheckSysctlName checks the syntax of a sysctl name (dots or slashes as
// separators, no empty elements).
func CheckSysctlName(name string) error {
	els := SplitSysctlName(name)
	if len(els) < 2 {
		return fmt.Errorf("sysctl name %q has no separator (expected e.g. net.core.somaxconn)", name)
	}
	// sysctlEl excludes every character strings.TrimSpace strips (RE2's \s
	// lacks \v, U+0085 and the Unicode spaces), so trimming a name never
	// changes its elements.
	for _, e := range els {
		if e == "" || e == "." || e == ".." || !sysctlEl.MatchString(e) {
			return fmt.Errorf("sysctl name %q has an empty or invalid element", name)
		}
	}
	// The canonical spelling writes a dot inside an element as a slash, so
	// a dot in the first element would make it start with a slash and read
	// back split the other way. No top-level /proc/sys directory has one.
	if strings.Contains(els[0], ".") {
		return fmt.Errorf("sysctl name %q has a dot in its first element (expected e.g. net.core.somaxconn)", name)
	}
	return nil
}

// SplitSysctlName splits a sysctl name into its elements using sysctl(8)'s
// rule: the first separator decides. With dots, a slash inside an element
// stands for a dot (net.ipv4.conf.eth0/100.rp_filter); with slashes, dots
// are literal (net/ipv4/conf/eth0.100/rp_filter).
func SplitSysctlName(name string) []string {
	name = strings.TrimSpace(name)
	i := strings.IndexAny(name, "./")
	if i < 0 {
		return []string{name}
	}
	if name[i] == '/' {
		return strings.Split(strings.Trim(name, "/"), "/")
	}
	els := strings.Split(name, ".")
	for j := range els {
		els[j] = strings.ReplaceAll(els[j], "/", ".")
	}
	return els
}
