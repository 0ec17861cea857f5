package diagnose

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// pcieLink is one side's link attributes from sysfs (the PCI core's
// current_link_speed, max_link_speed, current_link_width, max_link_width,
// read from the Link Status and Link Capabilities registers).
type pcieLink struct {
	Speed, MaxSpeed float64 // GT/s
	Width, MaxWidth int
	SpeedText       string
	MaxSpeedText    string
}

// parseLinkSpeed reads "8.0 GT/s PCIe" (kernels since 4.17 append
// "PCIe"), "8 GT/s" or "2.5 GT/s"; "Unknown" (no link) is not a speed.
func parseLinkSpeed(s string) (float64, bool) {
	f := strings.Fields(s)
	if len(f) < 2 || f[1] != "GT/s" {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil && v > 0
}

// readPCIeLink reads the link attributes of a PCI device directory; ok is
// false for devices that have none (conventional PCI, most virtual ones)
// or report no link.
func readPCIeLink(in *Input, dir string) (pcieLink, bool) {
	var l pcieLink
	rd := func(name string) string {
		s, _ := in.Root.ReadString(filepath.Join(dir, name))
		return strings.TrimSpace(s)
	}
	l.MaxSpeedText = rd("max_link_speed")
	maxSpeed, ok1 := parseLinkSpeed(l.MaxSpeedText)
	maxWidth, err := strconv.Atoi(rd("max_link_width"))
	if !ok1 || err != nil || maxWidth <= 0 {
		return l, false
	}
	l.MaxSpeed, l.MaxWidth = maxSpeed, maxWidth
	l.SpeedText = rd("current_link_speed")
	l.Speed, _ = parseLinkSpeed(l.SpeedText)
	l.Width, _ = strconv.Atoi(rd("current_link_width"))
	return l, true
}

func (l pcieLink) String() string {
	return fmt.Sprintf("%s x%d (max %s x%d)", l.SpeedText, l.Width, l.MaxSpeedText, l.MaxWidth)
}

// rulePCIeLink flags NICs whose PCIe link trained below what the card
// can do: fewer lanes (an x16 card in an x8 slot, a riser) or a lower
// generation. The upstream port's capabilities tell a slot that cannot
// do more from a link that trained down.
func rulePCIeLink(in *Input) []Finding {
	var out []Finding
	for _, nic := range in.Topo.NICs {
		if nic.PCI == "" {
			continue
		}
		dir := in.Root.Sys("bus/pci/devices", nic.PCI)
		dev, ok := readPCIeLink(in, dir)
		if !ok || dev.Speed == 0 || dev.Width == 0 {
			continue
		}
		if dev.Speed >= dev.MaxSpeed && dev.Width >= dev.MaxWidth {
			continue
		}
		ev := fmt.Sprintf("%s: %s", nic.PCI, dev)
		cause := "the link trained below what both ends can do: reseat the card, check the riser and the slot's lane setting (bifurcation) in the firmware"
		real, err := in.Root.Resolve(dir)
		if in.Root.Live() {
			real, err = filepath.EvalSymlinks(dir)
		}
		if err == nil {
			parent := filepath.Dir(real)
			if up, ok := readPCIeLink(in, parent); ok {
				ev += fmt.Sprintf("; upstream port %s can do %s x%d", filepath.Base(parent), up.MaxSpeedText, up.MaxWidth)
				if up.MaxWidth < dev.MaxWidth || up.MaxSpeed < dev.MaxSpeed {
					cause = fmt.Sprintf("the slot is the limit (its port can do %s x%d): move the card to a slot with x%d lanes of %s", up.MaxSpeedText, up.MaxWidth, dev.MaxWidth, dev.MaxSpeedText)
				}
			}
		}
		out = append(out, Finding{
			Severity: Warning, Object: nic.Name,
			Message:  fmt.Sprintf("%s's PCIe link runs at %s x%d, below the card's %s x%d: it caps the NIC's throughput", nic.Name, dev.SpeedText, dev.Width, dev.MaxSpeedText, dev.MaxWidth),
			Evidence: ev,
			Remedy:   cause + "; some devices lower the speed while idle (ASPM), so read current_link_speed again under load",
		})
	}
	return out
}
