package profile

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Nanoseconds is a time written as an integer number of nanoseconds (the
// unit of the kernel attribute it sets, e.g. gro_flush_timeout) or as a
// number with a unit: ns, us (or µs), ms, s ("200us", "1ms"). It is stored
// in nanoseconds.
type Nanoseconds uint64

// maxNanoseconds bounds a time: what fits an int64 of nanoseconds (292
// years), far beyond any timer but inside the kernel's unsigned long.
const maxNanoseconds = math.MaxInt64

var nsUnits = []struct {
	suffix string
	mult   uint64
}{{"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}}

// ParseNanoseconds reads a time: digits, then an optional unit (ns, us,
// µs, ms, s; none means ns). Fractions are refused: "1.5ms" is "1500us".
func ParseNanoseconds(s string) (Nanoseconds, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("time %q: expected a whole number of nanoseconds or a number with a unit (ns, us, ms, s), e.g. 200us", s)
	}
	unit := strings.TrimSpace(t[i:])
	mult := uint64(0)
	if unit == "" {
		mult = 1
	}
	for _, u := range nsUnits {
		if unit == u.suffix {
			mult = u.mult
		}
	}
	if mult == 0 {
		return 0, fmt.Errorf("time %q: unknown unit %q (valid: ns, us, ms, s; a plain number is nanoseconds)", s, unit)
	}
	n, err := strconv.ParseUint(t[:i], 10, 64)
	if err != nil || n > maxNanoseconds/mult {
		return 0, fmt.Errorf("time %q is too large (at most %d ns)", s, uint64(maxNanoseconds))
	}
	return Nanoseconds(n * mult), nil
}

// String prints the time in nanoseconds, as the kernel reads it.
func (d Nanoseconds) String() string { return strconv.FormatUint(uint64(d), 10) }

// MarshalText implements encoding.TextMarshaler.
func (d Nanoseconds) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Nanoseconds) decodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a time (200us, or nanoseconds), got %s", kindName(n))
	}
	switch n.ShortTag() {
	case "!!int", "!!str":
	case "!!float":
		return fmt.Errorf("time %s: fractions are not accepted; write it in a smaller unit (1500us, not 1.5ms)", n.Value)
	default:
		return fmt.Errorf("expected a time (200us, or nanoseconds), got %s", kindName(n))
	}
	v, err := ParseNanoseconds(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func (Nanoseconds) schema() map[string]any {
	return map[string]any{
		"oneOf": []any{
			map[string]any{"type": "integer", "minimum": 0, "maximum": int64(maxNanoseconds)},
			map[string]any{"type": "string", "pattern": nanosecondsPattern},
		},
		"examples": []any{"200us", 20000},
	}
}

// nanosecondsPattern is the syntax ParseNanoseconds reads (the range is
// checked by the decoder).
var nanosecondsPattern = `^[` + spaceClass + `]*[0-9]+[` + spaceClass + `]*(?:ns|us|µs|ms|s)?[` + spaceClass + `]*$`
