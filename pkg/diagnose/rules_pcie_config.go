package diagnose

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// pcieDevice is what the PCI Express capability in a device's config
// space says about transfer sizes (PCIe base spec, Device Capabilities
// and Device Control registers).
type pcieDevice struct {
	MaxPayloadSupported, MaxPayload, MaxReadReq int // bytes
	RelaxedOrdering, ExtendedTag                bool
}

// readPCIeDevice parses <dir>/config. Without root only the first 64
// bytes are readable and the capability list is out of reach: ok false.
func readPCIeDevice(dir string) (pcieDevice, bool) {
	cfg, err := os.ReadFile(filepath.Join(dir, "config"))
	if err != nil || len(cfg) < 0x40 || cfg[6]&0x10 == 0 {
		return pcieDevice{}, false
	}
	p := int(cfg[0x34] &^ 3)
	for i := 0; i < 48 && p >= 0x40 && p+10 <= len(cfg); i++ {
		if cfg[p] == 0x10 {
			devcap := binary.LittleEndian.Uint32(cfg[p+4:])
			devctl := binary.LittleEndian.Uint16(cfg[p+8:])
			return pcieDevice{
				MaxPayloadSupported: 128 << (devcap & 7),
				MaxPayload:          128 << ((devctl >> 5) & 7),
				MaxReadReq:          128 << ((devctl >> 12) & 7),
				RelaxedOrdering:     devctl&(1<<4) != 0,
				ExtendedTag:         devctl&(1<<8) != 0,
			}, true
		}
		p = int(cfg[p+1] &^ 3)
	}
	return pcieDevice{}, false
}

// rulePCIePayload (info): a NIC whose MaxPayload is below what both it
// and its upstream port support, or whose MaxReadReq is the minimum 128
// bytes: DMA is split into more, smaller transactions, which costs
// throughput at high packet rates. Firmware and the kernel's default
// (pcie_bus_config) choose them; pci=pcie_bus_perf raises them.
func rulePCIePayload(in *Input) []Finding {
	var out []Finding
	for _, nic := range in.Topo.NICs {
		if nic.PCI == "" {
			continue
		}
		dir := in.Root.Sys("bus/pci/devices", nic.PCI)
		real, err := in.Root.Resolve(dir)
		if in.Root.Live() {
			real, err = filepath.EvalSymlinks(dir)
		}
		if err != nil {
			continue
		}
		dev, ok := readPCIeDevice(real)
		if !ok {
			continue
		}
		ev := fmt.Sprintf("%s DevCap MaxPayload supported %d, DevCtl MaxPayload %d MaxReadReq %d, relaxed ordering %s, extended tag %s",
			nic.PCI, dev.MaxPayloadSupported, dev.MaxPayload, dev.MaxReadReq, onOff(dev.RelaxedOrdering), onOff(dev.ExtendedTag))
		var msgs []string
		if port, ok := readPCIeDevice(filepath.Dir(real)); ok {
			ev += fmt.Sprintf("; upstream port %s supports MaxPayload %d", filepath.Base(filepath.Dir(real)), port.MaxPayloadSupported)
			if best := min(dev.MaxPayloadSupported, port.MaxPayloadSupported); dev.MaxPayload < best {
				msgs = append(msgs, fmt.Sprintf("MaxPayload is %d bytes where the NIC and its port support %d", dev.MaxPayload, best))
			}
		}
		if dev.MaxReadReq == 128 {
			msgs = append(msgs, "MaxReadReq is 128 bytes, the minimum")
		}
		if len(msgs) == 0 {
			continue
		}
		out = append(out, Finding{
			Severity: Info, Object: nic.Name,
			Message:  fmt.Sprintf("%s: %s: DMA splits into more, smaller PCIe transactions", nic.Name, strings.Join(msgs, "; ")),
			Evidence: ev + " (config space)",
			Remedy:   "boot with pci=pcie_bus_perf (spec.cpu.kernelArgs), which sets each hierarchy's MaxPayload to the largest all its devices support and MaxReadReq to match, or raise them in the firmware setup; check the NIC vendor's tuning guide before changing MaxReadReq with setpci",
		})
	}
	return out
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
