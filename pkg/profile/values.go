package profile

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"

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

// maxSizeDigits bounds the number in a size: ten significant digits with
// the largest unit (G) still fit in 64 bits.
const maxSizeDigits = 10

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
	if len(strings.TrimLeft(t[:i], "0")) > maxSizeDigits {
		return 0, fmt.Errorf("size %q is too large (at most %d digits before the unit)", s, maxSizeDigits)
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
// spaces, so tcp_rmem can be written [4096, 131072, 6291456]. YAML integers
// are stored in decimal, the form the kernel prints (0x400 is "1024"), and
// must fit the kernel's widest integer type; booleans and floating-point
// numbers are refused (the kernel's switches are 0 and 1, and it takes no
// fractions). Strings are kept as written: whether a parameter is numeric is
// known only from the running kernel, so pkg/sysctl normalises them at plan
// time.
type SysctlValue string

// The range of integers a sysctl can take: unsigned long at the top, long
// at the bottom (the kernel's widest types on 64-bit).
var (
	sysctlMax = new(big.Int).SetUint64(math.MaxUint64)
	sysctlMin = big.NewInt(math.MinInt64)
)

// decodeNode implements nodeDecoder.
func (v *SysctlValue) decodeNode(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		s, err := sysctlScalar(n)
		if err != nil {
			return err
		}
		*v = SysctlValue(s)
		return nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return fmt.Errorf("empty list; a sysctl needs a value (null removes an inherited key)")
		}
		parts := make([]string, 0, len(n.Content))
		for i, c := range n.Content {
			if c.Kind == yaml.AliasNode {
				c = c.Alias
			}
			if c.Kind != yaml.ScalarNode || isNull(c) {
				return fmt.Errorf("expected a list of numbers or strings, got %s at [%d]", kindName(c), i)
			}
			s, err := sysctlScalar(c)
			if err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
			parts = append(parts, s)
		}
		*v = SysctlValue(strings.Join(parts, " "))
		return nil
	}
	return fmt.Errorf("expected a scalar or a list of scalars, got %s", kindName(n))
}

// sysctlScalar checks one scalar of a sysctl value and returns its text.
func sysctlScalar(n *yaml.Node) (string, error) {
	switch n.ShortTag() {
	case "!!int":
		return sysctlInt(n.Value)
	case "!!float":
		if _, ok := parseYAMLInt(n.Value); ok {
			return sysctlInt(n.Value) // an integer too large for 64 bits
		}
		if strings.Trim(n.Value, "0123456789_+-") == "" {
			return "", fmt.Errorf("%s is not an integer: a leading 0 makes it octal, where 8 and 9 are not digits", n.Value)
		}
		return "", fmt.Errorf("%s is not an integer: the kernel takes whole numbers (quote it if the parameter takes text)", n.Value)
	case "!!bool":
		return "", fmt.Errorf("%s is a boolean: the kernel's switches are numbers, write 1 or 0", n.Value)
	}
	s := strings.TrimSpace(n.Value)
	if s == "" {
		return "", fmt.Errorf("empty value; a sysctl needs a value (null removes an inherited key)")
	}
	if IsBoolWord(s) {
		return "", fmt.Errorf("%q is a boolean word: the kernel's switches are numbers, write 1 or 0", s)
	}
	return s, nil
}

// boolWords are the words YAML 1.1 (and many editors) read as booleans.
var boolWords = []string{"true", "false", "yes", "no", "on", "off"}

// IsBoolWord reports whether s is a boolean word (true, yes, on, false, no,
// off, in any case): never a sysctl value.
func IsBoolWord(s string) bool {
	for _, w := range boolWords {
		if strings.EqualFold(s, w) {
			return true
		}
	}
	return false
}

// parseYAMLInt reads a YAML integer literal the way yaml.v3 does (sign,
// 0x, 0o, 0b, a leading 0 for octal, underscores ignored), without a size
// limit.
func parseYAMLInt(lit string) (*big.Int, bool) {
	return new(big.Int).SetString(strings.ReplaceAll(lit, "_", ""), 0)
}

// sysctlInt returns a YAML integer in decimal, refusing one no sysctl can
// hold.
func sysctlInt(lit string) (string, error) {
	b, ok := parseYAMLInt(lit)
	if !ok {
		return "", fmt.Errorf("%s is not an integer", lit)
	}
	if b.Cmp(sysctlMax) > 0 {
		return "", fmt.Errorf("%s is above %s, the largest value of the kernel's widest integer type (unsigned long)", lit, sysctlMax)
	}
	if b.Cmp(sysctlMin) < 0 {
		return "", fmt.Errorf("%s is below %s, the smallest value of the kernel's widest signed type (long)", lit, sysctlMin)
	}
	return b.String(), nil
}

func (SysctlValue) schema() map[string]any {
	num := map[string]any{"type": "integer", "minimum": json.Number(sysctlMin.String()), "maximum": json.Number(sysctlMax.String())}
	str := map[string]any{
		"type":    "string",
		"pattern": "[^" + spaceClass + "]",
		"not":     map[string]any{"pattern": "^[" + spaceClass + "]*(" + boolPattern() + ")[" + spaceClass + "]*$"},
	}
	return map[string]any{"oneOf": []any{
		num,
		str,
		map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"oneOf": []any{num, str}}},
		map[string]any{"type": "null", "description": "Removes a key inherited through extends."},
	}}
}

// spaceClass is the body of a regexp character class of what
// strings.TrimSpace removes (unicode.IsSpace), in a syntax both Go and
// ECMA-262 (with the u flag) read.
const spaceClass = `\s\v\x85\p{Z}`

// boolPattern matches a boolean word in any case.
func boolPattern() string {
	alts := make([]string, len(boolWords))
	for i, w := range boolWords {
		var b strings.Builder
		for _, c := range w {
			fmt.Fprintf(&b, "[%c%c]", unicode.ToUpper(c), c)
		}
		alts[i] = b.String()
	}
	return strings.Join(alts, "|")
}
