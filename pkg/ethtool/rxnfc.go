package ethtool

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

var ne = binary.NativeEndian

// Steering is what nettune needs for flow steering and RSS control, next
// to Interface: the ETHTOOL_{G,S}RXFH hash fields, the ETHTOOL_{G,S}RSSH
// hash function and key, and the ntuple rule table
// (ETHTOOL_GRXCLSRLCNT/GRXCLSRLALL/GRXCLSRULE/SRXCLSRLINS/SRXCLSRLDEL).
// Live and Files implement it. Errors wrap ErrNotSupported when the
// driver has no such operation (EOPNOTSUPP) and syscall.EINVAL when it
// refuses the value.
type Steering interface {
	// FlowHash is the set of header fields hashed for a flow type
	// (ethtool -n IF rx-flow-hash udp4), in ethtool's letters ("sdfn").
	FlowHash(ifname, flowType string) (string, error)
	SetFlowHash(ifname, flowType, fields string) error
	// RSSHash is the hash function and key (ethtool -x).
	RSSHash(ifname string) (RSSHash, error)
	// SetRSSHash sets the function (when not "") and the key (when not
	// nil), leaving the indirection table alone.
	SetRSSHash(ifname, hfunc string, key []byte) error
	// Rules reads the ntuple rule table (ethtool -n IF).
	Rules(ifname string) (RuleTable, error)
	// InsertRule adds or replaces the rule at r.Location (or lets the
	// driver choose with LocAny) and returns where it went.
	InsertRule(ifname string, r Rule) (uint32, error)
	DeleteRule(ifname string, loc uint32) error
}

// OpenSteering returns the Steering of an Interface, or nil when it has
// none (a test's fake of Interface alone).
func OpenSteering(e Interface) Steering {
	s, _ := e.(Steering)
	return s
}

// RSSHash is what ETHTOOL_GRSSH reports besides the table.
type RSSHash struct {
	// Func is the current hash function: toeplitz, xor, crc32, or "" when
	// the driver does not say.
	Func string
	// Key is the hash key; KeySize its fixed length (0: the driver has no
	// key to set).
	Key     []byte
	KeySize int
	// IndirSize is the size of the indirection table.
	IndirSize int
}

// HashFuncs are the kernel's RSS hash functions (ETH_SS_RSS_HASH_FUNCS:
// bit 0 toeplitz, ETH_RSS_HASH_TOP; bit 1 xor; bit 2 crc32). Which of
// them a NIC offers only its driver knows: it refuses the others with
// EOPNOTSUPP.
var HashFuncs = []string{"toeplitz", "xor", "crc32"}

func hfuncBit(name string) (uint8, bool) {
	for i, n := range HashFuncs {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

func hfuncName(b uint8) string {
	for i, n := range HashFuncs {
		if b == 1<<i {
			return n
		}
	}
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("0x%x", b)
}

// FormatKey writes a key as ethtool -x does: hex bytes joined by colons.
func FormatKey(k []byte) string {
	parts := make([]string, len(k))
	for i, c := range k {
		parts[i] = hex.EncodeToString([]byte{c})
	}
	return strings.Join(parts, ":")
}

// ParseKey reads FormatKey's output (ethtool -X hkey's syntax).
func ParseKey(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("empty hash key")
	}
	parts := strings.Split(s, ":")
	out := make([]byte, len(parts))
	for i, p := range parts {
		if len(p) != 2 {
			return nil, fmt.Errorf("hash key byte %d %q is not two hex digits", i, p)
		}
		b, err := hex.DecodeString(p)
		if err != nil {
			return nil, fmt.Errorf("hash key byte %d %q is not two hex digits", i, p)
		}
		out[i] = b[0]
	}
	return out, nil
}

// Hash fields (RXH_*) and ethtool's letters for them.
var rxhLetters = []struct {
	letter byte
	bit    uint64
}{
	{'m', 1 << 1}, // RXH_L2DA
	{'v', 1 << 2}, // RXH_VLAN
	{'t', 1 << 3}, // RXH_L3_PROTO
	{'s', 1 << 4}, // RXH_IP_SRC
	{'d', 1 << 5}, // RXH_IP_DST
	{'f', 1 << 6}, // RXH_L4_B_0_1
	{'n', 1 << 7}, // RXH_L4_B_2_3
}

const rxhDiscard = 1 << 31

// FlowHashFlowTypes are the flow types whose hash fields nettune sets.
var FlowHashFlowTypes = []string{"tcp4", "udp4", "tcp6", "udp6"}

// ParseHashFields turns ethtool's letters (rx-flow-hash udp4 sdfn) into
// RXH_* bits, in any order, each letter once; "r" (discard) alone.
func ParseHashFields(s string) (uint64, error) {
	if s == "r" {
		return rxhDiscard, nil
	}
	if s == "" {
		return 0, fmt.Errorf("no hash fields")
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		found := false
		for _, l := range rxhLetters {
			if l.letter == s[i] {
				if v&l.bit != 0 {
					return 0, fmt.Errorf("hash field %q given twice in %q", s[i], s)
				}
				v |= l.bit
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("%q is not a hash field letter in %q (m v t s d f n, or r alone)", s[i], s)
		}
	}
	return v, nil
}

// FormatHashFields writes RXH_* bits as ethtool's letters in the fixed
// order m v t s d f n ("" for none, "r" for discard).
func FormatHashFields(v uint64) string {
	if v&rxhDiscard != 0 {
		return "r"
	}
	var b strings.Builder
	for _, l := range rxhLetters {
		if v&l.bit != 0 {
			b.WriteByte(l.letter)
		}
	}
	return b.String()
}

// NormHashFields returns the canonical spelling of a letter set.
func NormHashFields(s string) (string, error) {
	v, err := ParseHashFields(s)
	if err != nil {
		return "", err
	}
	return FormatHashFields(v), nil
}

// RuleTable is the ntuple rule table of a NIC.
type RuleTable struct {
	// Size is the number of locations (ETHTOOL_GRXCLSRLCNT's data without
	// RX_CLS_LOC_SPECIAL).
	Size uint32
	// Special says the driver picks locations itself (RX_CLS_LOC_SPECIAL):
	// rules are inserted with LocAny.
	Special bool
	// Rules are the rules in the table; Foreign those nettune cannot
	// represent, by location, with why.
	Rules   []Rule
	Foreign map[uint32]string
}

// At returns the rule at a location.
func (t RuleTable) At(loc uint32) (Rule, bool) {
	for _, r := range t.Rules {
		if r.Location == loc {
			return r, true
		}
	}
	return Rule{}, false
}
