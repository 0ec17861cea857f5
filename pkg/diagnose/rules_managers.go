package diagnose

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

// running reports whether a process with this comm runs. /proc is listed
// once per Run, whichever rules ask.
func (in *Input) running(comm string) bool {
	if in.comms == nil {
		in.comms = map[string]bool{}
		entries, _ := os.ReadDir(in.Root.Proc())
		for _, e := range entries {
			if e.Name()[0] < '0' || e.Name()[0] > '9' {
				continue
			}
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			if b, err := os.ReadFile(in.Root.Proc(e.Name(), "comm")); err == nil {
				in.comms[strings.TrimSpace(string(b))] = true
			}
		}
	}
	return in.comms[comm]
}

// profileNIC is a NIC of the host that a spec.nics entry matches.
type profileNIC struct {
	numa.NIC
	Index int // spec.nics index
}

// profileNICs returns the host's NICs the profile tunes.
func profileNICs(in *Input) []profileNIC {
	if in.Spec == nil {
		return nil
	}
	var out []profileNIC
	for _, nic := range in.Topo.NICs {
		for i, n := range in.Spec.NICs {
			m := n.Match
			ok := m.Name != "" || m.PCI != "" || m.Driver != "" || m.MAC != ""
			if m.Name != "" && !matchName(m.Name, nic.Name) {
				ok = false
			}
			if m.PCI != "" && profile.NormalizePCI(m.PCI) != nic.PCI {
				ok = false
			}
			if m.Driver != "" && m.Driver != nic.Driver {
				ok = false
			}
			if m.MAC != "" && !strings.EqualFold(m.MAC, nicMAC(in, nic.Name)) {
				ok = false
			}
			if ok {
				out = append(out, profileNIC{nic, i})
				break
			}
		}
	}
	return out
}

func nicMAC(in *Input, name string) string {
	s, _ := in.Root.ReadString(in.Root.Sys("class/net", name, "address"))
	return strings.TrimSpace(s)
}

// keyfile reads the key=value lines of an INI-style file by section
// ("section.key"); later assignments win.
func keyfile(b []byte) map[string]string {
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[section+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// ruleNetworkManager: NetworkManager runs and manages a NIC the profile
// tunes. When it activates a connection (at boot, on link changes, on
// nmcli up) it applies the profile's ethtool settings and its own idea
// of the device (MTU, offloads, ring sizes from ethtool.* properties).
// Its per-device state file (/run/NetworkManager/devices/<ifindex>,
// kept after it stops) says managed=true for devices it manages.
func ruleNetworkManager(in *Input) []Finding {
	nics := profileNICs(in)
	if len(nics) == 0 || !in.running("NetworkManager") {
		return nil
	}
	var out []Finding
	for _, nic := range nics {
		idx, err := in.Root.ReadString(in.Root.Sys("class/net", nic.Name, "ifindex"))
		if err != nil {
			continue
		}
		state := in.Root.Run("NetworkManager/devices", strings.TrimSpace(idx))
		b, err := os.ReadFile(state)
		if err != nil {
			continue
		}
		kv := keyfile(b)
		if kv["device.managed"] != "true" {
			continue
		}
		ev := fmt.Sprintf("%s: managed=true", in.Root.HostPath(state))
		if u := kv["device.connection-uuid"]; u != "" {
			ev += ", connection-uuid=" + u
		}
		out = append(out, Finding{
			Severity: Warning, Object: nic.Name,
			Message:  fmt.Sprintf("NetworkManager manages %s, which spec.nics[%d] tunes: it reapplies its connection's settings (MTU, offloads, ethtool.* properties) whenever it activates the device, over nettune's", nic.Name, nic.Index),
			Evidence: ev,
			Remedy:   fmt.Sprintf("leave the NIC to nettune: nmcli device set %s managed no (persist with an unmanaged-devices= entry in /etc/NetworkManager/conf.d), or set the same values in the NetworkManager connection", nic.Name),
		})
	}
	return out
}

// ruleDriverctl: driverctl keeps its overrides in /etc/driverctl.d as
// files named <bus>-<address> holding the driver, and applies them from
// udev at every boot and hotplug (setting driver_override before a
// driver binds). An override on a device the profile binds elsewhere, or
// on a NIC the profile tunes in the kernel, fights nettune at boot.
func ruleDriverctl(in *Input) []Finding {
	if in.Spec == nil {
		return nil
	}
	dir := in.Root.Etc("driverctl.d")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	want := map[string]string{} // PCI address -> the profile's driver, or "kernel NIC"
	for _, d := range in.Spec.Devices {
		addr := d.PCI
		if !profile.IsPCIAddress(addr) {
			for _, nic := range in.Topo.NICs {
				if nic.Name == addr {
					addr = nic.PCI
				}
			}
		}
		want[profile.NormalizePCI(addr)] = d.Driver
	}
	for _, nic := range profileNICs(in) {
		if nic.PCI != "" {
			if _, ok := want[nic.PCI]; !ok {
				want[nic.PCI] = "kernel NIC " + nic.Name
			}
		}
	}
	var out []Finding
	for _, e := range entries {
		addr, ok := strings.CutPrefix(e.Name(), "pci-")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		drv := strings.TrimSpace(string(b))
		w, ok := want[addr]
		if !ok || w == drv {
			continue
		}
		what := "spec.devices binds it to " + w
		if strings.HasPrefix(w, "kernel NIC ") {
			what = fmt.Sprintf("the profile tunes it as %s on its kernel driver", strings.TrimPrefix(w, "kernel NIC "))
		}
		out = append(out, Finding{
			Severity: Warning, Object: addr,
			Message:  fmt.Sprintf("driverctl overrides %s to %s at every boot and hotplug, but %s", addr, drv, what),
			Evidence: fmt.Sprintf("/etc/driverctl.d/%s: %s", e.Name(), drv),
			Remedy:   fmt.Sprintf("driverctl unset-override %s, and let spec.devices own the binding", addr),
		})
	}
	return out
}

// linkDirs are the directories udev reads .link files from, highest
// priority first; a file name in an earlier one hides the same name in a
// later one.
var linkDirs = []string{"/etc/systemd/network", "/run/systemd/network", "/usr/local/lib/systemd/network", "/usr/lib/systemd/network", "/lib/systemd/network"}

// linkEthtoolKeys are the [Link] settings of systemd.link that udev's
// net_setup_link applies through ethtool or netlink, and the profile
// section they overlap.
func linkEthtoolSection(key string) (string, bool) {
	switch {
	case strings.HasSuffix(key, "BufferSize"):
		return "rings", true
	case strings.HasSuffix(key, "Channels"):
		return "channels", true
	case strings.Contains(key, "Coalesce"):
		return "coalesce", true
	case strings.HasSuffix(key, "Offload") || strings.HasSuffix(key, "OffloadHardware") || strings.HasSuffix(key, "HardwareAcceleration") ||
		strings.HasSuffix(key, "Filter") || key == "ReceiveFCS" || key == "ReceiveAll" || strings.HasPrefix(key, "GenericSegmentOffload"):
		return "features", true
	case key == "TransmitQueueLength":
		return "txqueuelen", true
	case key == "TransmitQueues" || key == "ReceiveQueues":
		return "channels", true
	case key == "RxFlowControl" || key == "TxFlowControl" || key == "AutoNegotiationFlowControl" ||
		key == "BitsPerSecond" || key == "Duplex" || key == "AutoNegotiation" || key == "Advertise" || key == "Port" || key == "WakeOnLan" || key == "MTUBytes":
		return "", true
	}
	return "", false
}

// linkMatches evaluates a .link file's [Match] against a NIC. Keys it
// cannot evaluate (Property, Host, KernelCommandLine...) are taken as
// matching and returned.
func linkMatches(in *Input, kv map[string]string, nic numa.NIC) (bool, []string) {
	var unknown []string
	for k, v := range kv {
		key, ok := strings.CutPrefix(k, "Match.")
		if !ok || v == "" {
			continue
		}
		var subject string
		switch key {
		case "OriginalName":
			subject = nic.Name
		case "Driver":
			subject = nic.Driver
		case "Path":
			subject = "pci-" + nic.PCI
		case "Type":
			subject = "ether"
		case "MACAddress", "PermanentMACAddress":
			mac := strings.ToLower(nicMAC(in, nic.Name))
			found := false
			for _, m := range strings.Fields(strings.ToLower(v)) {
				found = found || m == mac
			}
			if !found {
				return false, nil
			}
			continue
		default:
			unknown = append(unknown, key+"="+v)
			continue
		}
		if nic.PCI == "" && key == "Path" {
			return false, nil
		}
		neg := strings.HasPrefix(v, "!")
		matched := false
		for _, g := range strings.Fields(strings.TrimPrefix(v, "!")) {
			if ok, _ := filepath.Match(g, subject); ok {
				matched = true
			}
		}
		if matched == neg {
			return false, nil
		}
	}
	sort.Strings(unknown)
	return true, unknown
}

// ruleLinkFiles: udev applies the first .link file (in lexical order of
// names over linkDirs) whose [Match] fits a NIC, at every add event —
// boot, driver reload, a rebind. Ethtool settings in it (ring sizes,
// channels, coalescing, offloads) are then applied before or after
// nettune's, depending on timing.
func ruleLinkFiles(in *Input) []Finding {
	nics := profileNICs(in)
	if len(nics) == 0 {
		return nil
	}
	files := map[string]string{}
	for _, d := range linkDirs {
		entries, err := os.ReadDir(in.Root.Path(d))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".link") && files[e.Name()] == "" {
				files[e.Name()] = filepath.Join(d, e.Name())
			}
		}
	}
	if len(files) == 0 {
		return nil
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	parsed := map[string]map[string]string{}
	var out []Finding
	for _, nic := range nics {
		for _, n := range names {
			kv, ok := parsed[n]
			if !ok {
				b, err := os.ReadFile(in.Root.Path(files[n]))
				if err != nil {
					continue
				}
				kv = keyfile(b)
				parsed[n] = kv
			}
			match, unknown := linkMatches(in, kv, nic.NIC)
			if !match {
				continue
			}
			// The first match is the one udev applies.
			var keys, overlap []string
			nicSpec := in.Spec.NICs[nic.Index]
			set := map[string]bool{"rings": nicSpec.Rings != nil, "channels": nicSpec.Channels != nil || nicSpec.RSS != nil,
				"coalesce": nicSpec.Coalesce != nil, "features": len(nicSpec.Features) > 0, "txqueuelen": nicSpec.TxQueueLen != nil}
			for k, v := range kv {
				key, ok := strings.CutPrefix(k, "Link.")
				if !ok {
					continue
				}
				if sec, ok := linkEthtoolSection(key); ok {
					keys = append(keys, key+"="+v)
					if set[sec] {
						overlap = append(overlap, fmt.Sprintf("%s (spec.nics[%d].%s)", key, nic.Index, sec))
					}
				}
			}
			if len(keys) > 0 {
				sort.Strings(keys)
				sort.Strings(overlap)
				sev, msg := Info, fmt.Sprintf("%s applies ethtool settings to %s at every device add", files[n], nic.Name)
				if len(overlap) > 0 {
					sev, msg = Warning, fmt.Sprintf("%s sets %s on %s at every device add, which the profile sets too: whichever runs last wins", files[n], strings.Join(overlap, ", "), nic.Name)
				}
				ev := files[n] + " [Link]: " + strings.Join(keys, " ")
				if len(unknown) > 0 {
					ev += "; not evaluated, taken as matching: " + strings.Join(unknown, " ")
				}
				out = append(out, Finding{
					Severity: sev, Object: nic.Name, Message: msg, Evidence: ev,
					Remedy: fmt.Sprintf("remove the ethtool settings from %s (keep its naming policy), or make them agree with the profile", files[n]),
				})
			}
			break
		}
	}
	return out
}

// ruleTunedNoDaemon: tuned with daemon = 0 in tuned-main.conf applies its
// profile and exits (tuned-adm profile, tuned.service at boot), so NT402,
// which looks for the process, does not see it, yet its settings are
// applied at every boot.
func ruleTunedNoDaemon(in *Input) []Finding {
	b, err := os.ReadFile(in.Root.Etc("tuned/tuned-main.conf"))
	if err != nil {
		return nil
	}
	kv := keyfile(b)
	if v := strings.ToLower(kv[".daemon"]); v != "0" && v != "false" && v != "no" {
		return nil
	}
	active, err := in.Root.ReadString(in.Root.Etc("tuned/active_profile"))
	active = strings.TrimSpace(active)
	if err != nil || active == "" || in.running("tuned") {
		return nil
	}
	return []Finding{{
		Severity: Warning, Object: "tuned",
		Message:  fmt.Sprintf("tuned runs without its daemon (daemon = 0) with profile %q: it applied that profile's sysctls, governors and IRQ settings and applies them again at each boot, with no process for NT402 to see", active),
		Evidence: "/etc/tuned/tuned-main.conf: daemon = " + kv[".daemon"] + "; /etc/tuned/active_profile: " + active,
		Remedy:   "tuned-adm off and systemctl disable tuned, or make sure the tuned profile and the nettune profile agree",
	}}
}
