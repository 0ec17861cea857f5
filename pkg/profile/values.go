package profile

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Size is a byte size written the way hugepage sizes are (2M, 1G, 2048kB,
// 1GiB). It is stored in bytes.
type Size uint64

// Common page sizes.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

// ParseSize reads a size with a binary unit suffix.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: expected a number with a unit such as 2M or 1G", s)
	}
	n, err := strconv.ParseUint(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	var mult Size
	switch strings.ToLower(strings.TrimSpace(t[i:])) {
	case "k", "kb", "kib":
		mult = KiB
	case "m", "mb", "mib":
		mult = MiB
	case "g", "gb", "gib":
		mult = GiB
	case "", "b":
		return 0, fmt.Errorf("size %q: a unit is required (k, M, G)", s)
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q (valid: kB, M, G)", s, t[i:])
	}
	if n == 0 {
		return 0, fmt.Errorf("size %q must be positive", s)
	}
	return Size(n) * mult, nil
}

// String prints the size the way the kernel's hugepage parameters take it
// (2M, 1G, 64K).
func (s Size) String() string {
	switch {
	case s == 0:
		return ""
	case s%GiB == 0:
		return fmt.Sprintf("%dG", s/GiB)
	case s%MiB == 0:
		return fmt.Sprintf("%dM", s/MiB)
	case s%KiB == 0:
		return fmt.Sprintf("%dK", s/KiB)
	}
	return fmt.Sprintf("%dB", uint64(s))
}

// KB is the size in kB, as in /sys/kernel/mm/hugepages/hugepages-<KB>kB.
func (s Size) KB() uint64 { return uint64(s / KiB) }

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// SysctlValue is a sysctl value. A YAML list of scalars is joined with
// spaces, so tcp_rmem can be written [4096, 131072, 6291456].
type SysctlValue string

// decodeNode implements nodeDecoder.
func (v *SysctlValue) decodeNode(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*v = SysctlValue(strings.TrimSpace(n.Value))
		return nil
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("expected a list of scalars")
			}
			parts = append(parts, c.Value)
		}
		*v = SysctlValue(strings.Join(parts, " "))
		return nil
	}
	return fmt.Errorf("expected a scalar or a list of scalars, got %s", kindName(n))
}

func (SysctlValue) schema() map[string]any {
	return map[string]any{"oneOf": []any{
		map[string]any{"type": []string{"string", "integer"}},
		map[string]any{"type": "array", "items": map[string]any{"type": []string{"string", "integer"}}},
		map[string]any{"type": "null", "description": "Removes a key inherited through extends."},
	}}
}
