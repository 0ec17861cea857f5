package devbind

import (
	"fmt"
	"strings"
)

// State is what a device's binding looks like: the driver it is bound to
// and its driver_override. It is the Before and After of a "driver" change,
// so a journal entry holds everything needed to put a device back exactly.
type State struct {
	// Driver is the bound driver, "" for none.
	Driver string
	// Override is driver_override, "" when unset (the kernel prints
	// "(null)").
	Override string
	// Interfaces are the kernel network interfaces the device had. They
	// are informational (so that an interface name in a profile can still
	// be resolved once the interface is gone) and never compared.
	Interfaces []string
}

// noDriver is how a state without a driver is written.
const noDriver = "none"

// String renders a state as "ixgbe if=eth1", "vfio-pci override=vfio-pci"
// or "none". ParseState reads it back.
func (s State) String() string {
	parts := []string{noDriver}
	if s.Driver != "" {
		parts[0] = s.Driver
	}
	if s.Override != "" {
		parts = append(parts, "override="+s.Override)
	}
	if len(s.Interfaces) > 0 {
		parts = append(parts, "if="+strings.Join(s.Interfaces, ","))
	}
	return strings.Join(parts, " ")
}

// ParseState reads a state written by String.
func ParseState(s string) (State, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return State{}, fmt.Errorf("empty device state")
	}
	var st State
	if f[0] != noDriver {
		if strings.Contains(f[0], "=") {
			return State{}, fmt.Errorf("device state %q does not start with a driver name", s)
		}
		st.Driver = f[0]
	}
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return State{}, fmt.Errorf("device state %q: bad field %q", s, kv)
		}
		switch k {
		case "override":
			st.Override = v
		case "if":
			st.Interfaces = strings.Split(v, ",")
		default:
			return State{}, fmt.Errorf("device state %q: unknown field %q", s, k)
		}
	}
	return st, nil
}

// Same reports whether two states bind the device the same way (driver and
// driver_override; interfaces are not compared).
func (s State) Same(o State) bool {
	return sameName(s.Driver, o.Driver) && sameName(s.Override, o.Override)
}

func sameName(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	return SameDriver(a, b)
}
