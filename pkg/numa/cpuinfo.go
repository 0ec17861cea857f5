package numa

import (
	"bufio"
	"io"
	"slices"
	"strings"
)

// CPUInfo is what /proc/cpuinfo says about the processor model (the
// first processor's entry; nettune does not support mixed sockets).
type CPUInfo struct {
	Vendor string   `json:"vendor,omitempty"`
	Model  string   `json:"model,omitempty"`
	Flags  []string `json:"-"`
}

// HasFlag reports whether the CPU advertises a feature flag.
func (c CPUInfo) HasFlag(f string) bool { return slices.Contains(c.Flags, f) }

// GiganticPages reports whether the CPU can map 1G pages (x86 pdpe1gb).
func (c CPUInfo) GiganticPages() bool { return c.HasFlag("pdpe1gb") }

// ParseCPUInfo reads the first processor entry of /proc/cpuinfo: vendor,
// model name and flags ("Features" on arm64).
func ParseCPUInfo(r io.Reader) (CPUInfo, error) {
	var c CPUInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	seen := false
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if seen {
				break
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		seen = true
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "vendor_id", "CPU implementer":
			if c.Vendor == "" {
				c.Vendor = v
			}
		case "model name":
			c.Model = v
		case "flags", "Features":
			c.Flags = strings.Fields(v)
		}
	}
	return c, sc.Err()
}
