package nics

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/profile"
)

// Values of the changes that group several ethtool fields are written as
// "key=value" pairs in a fixed key order, e.g. "rx-ring=4096 combined=4":
// readable in a plan, and exact enough for the journal to undo them.

// queueKeys are the fields of the rings/channels change, in apply order:
// ethtool -G then ethtool -L.
var queueKeys = []string{"rx-ring", "tx-ring", "combined", "rx", "tx", "other"}

// coalesceKeys are the fields of the coalesce change (ethtool -C names).
var coalesceKeys = []string{"adaptive-rx", "adaptive-tx", "rx-usecs", "rx-frames", "tx-usecs", "tx-frames"}

// kv is a parsed composite value.
type kv map[string]uint32

func formatKV(keys []string, v kv) string {
	var parts []string
	for _, k := range keys {
		x, ok := v[k]
		if !ok {
			continue
		}
		s := strconv.FormatUint(uint64(x), 10)
		if strings.HasPrefix(k, "adaptive-") {
			s = onOff(x != 0)
		}
		parts = append(parts, k+"="+s)
	}
	return strings.Join(parts, " ")
}

func parseKV(keys []string, s string) (kv, error) {
	out := kv{}
	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
	}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || !known[k] {
			return nil, fmt.Errorf("%q is not one of %s=N", f, strings.Join(keys, ", "))
		}
		switch v {
		case "on":
			out[k] = 1
			continue
		case "off":
			out[k] = 0
			continue
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q: %q is not a number", f, v)
		}
		out[k] = uint32(n)
	}
	return out, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// queueValues reads the fields named in keys from rings and channels.
func queueValues(keys kv, r ethtool.Rings, c ethtool.Channels) kv {
	all := kv{"rx-ring": r.RX, "tx-ring": r.TX, "combined": c.Combined, "rx": c.RX, "tx": c.TX, "other": c.Other}
	out := kv{}
	for k := range keys {
		out[k] = all[k]
	}
	return out
}

func hasRingKeys(v kv) bool {
	_, rx := v["rx-ring"]
	_, tx := v["tx-ring"]
	return rx || tx
}

func hasChannelKeys(v kv) bool {
	for _, k := range []string{"combined", "rx", "tx", "other"} {
		if _, ok := v[k]; ok {
			return true
		}
	}
	return false
}

// withChannels returns c with the channel counts of v.
func withChannels(c ethtool.Channels, v kv) ethtool.Channels {
	if x, ok := v["combined"]; ok {
		c.Combined = x
	}
	if x, ok := v["rx"]; ok {
		c.RX = x
	}
	if x, ok := v["tx"]; ok {
		c.TX = x
	}
	if x, ok := v["other"]; ok {
		c.Other = x
	}
	return c
}

// withRings returns r with the ring sizes of v.
func withRings(r ethtool.Rings, v kv) ethtool.Rings {
	if x, ok := v["rx-ring"]; ok {
		r.RX = x
	}
	if x, ok := v["tx-ring"]; ok {
		r.TX = x
	}
	return r
}

// coalesceProfileKeys are the profile's names (spec.nics[].coalesce) of
// the coalesce change's fields.
var coalesceProfileKeys = map[string]string{
	"adaptive-rx": "adaptiveRx", "adaptive-tx": "adaptiveTx",
	"rx-usecs": "rxUsecs", "rx-frames": "rxFrames", "tx-usecs": "txUsecs", "tx-frames": "txFrames",
}

// unsupportedCoalesce lists, in coalesceKeys order, the keys of want the
// driver does not support; none when its supported set is unknown.
func unsupportedCoalesce(want kv, c ethtool.Coalesce) []string {
	var bad []string
	for _, k := range coalesceKeys {
		if _, ok := want[k]; ok && !c.Supports(k) {
			bad = append(bad, k)
		}
	}
	return bad
}

// coalesceUnsupported says which profile keys a NIC's driver does not
// support and which of the profile's keys it does.
func coalesceUnsupported(label string, n fmt.Stringer, bad []string, c ethtool.Coalesce) string {
	names := make([]string, len(bad))
	for i, k := range bad {
		names[i] = fmt.Sprintf("spec.%s.coalesce.%s (ethtool -C %s)", label, coalesceProfileKeys[k], k)
	}
	it := "it"
	if len(bad) > 1 {
		it = "them"
	}
	msg := fmt.Sprintf("the driver of %s does not support %s: ethtool -c shows %s as n/a, which is neither off nor 0", n, strings.Join(names, ", "), it)
	if settable := supportedProfileKeys(c); len(settable) > 0 {
		msg += "; of the profile's coalesce keys it supports " + strings.Join(settable, ", ")
	} else {
		msg += "; it supports none of the profile's coalesce keys"
	}
	if len(c.Supported) > 0 {
		msg += " (ethtool -c shows " + strings.Join(c.Supported, ", ") + ")"
	}
	return msg
}

// coalesceRemedy names what to remove, and what may replace it.
func coalesceRemedy(label string, bad []string, c ethtool.Coalesce) string {
	names := make([]string, len(bad))
	for i, k := range bad {
		names[i] = coalesceProfileKeys[k]
	}
	r := "remove " + strings.Join(names, ", ") + " from spec." + label + ".coalesce"
	if settable := supportedProfileKeys(c); len(settable) > 0 {
		// Closest to the first refused key first: adaptiveTx -> adaptiveRx.
		sort.SliceStable(settable, func(i, j int) bool {
			return profile.EditDistance(names[0], settable[i]) < profile.EditDistance(names[0], settable[j])
		})
		r += "; did you mean " + strings.Join(settable, ", ") + "?"
	}
	return r
}

// supportedProfileKeys are the profile keys whose parameters the driver
// supports, in coalesceKeys order.
func supportedProfileKeys(c ethtool.Coalesce) []string {
	var out []string
	for _, k := range coalesceKeys {
		if c.Supports(k) {
			out = append(out, coalesceProfileKeys[k])
		}
	}
	return out
}

func coalesceValues(keys kv, c ethtool.Coalesce) kv {
	all := kv{
		"adaptive-rx": b2u(c.AdaptiveRX), "adaptive-tx": b2u(c.AdaptiveTX),
		"rx-usecs": c.RXUsecs, "rx-frames": c.RXFrames, "tx-usecs": c.TXUsecs, "tx-frames": c.TXFrames,
	}
	out := kv{}
	for k := range keys {
		out[k] = all[k]
	}
	return out
}

func withCoalesce(c ethtool.Coalesce, v kv) ethtool.Coalesce {
	for k, x := range v {
		switch k {
		case "adaptive-rx":
			c.AdaptiveRX = x != 0
		case "adaptive-tx":
			c.AdaptiveTX = x != 0
		case "rx-usecs":
			c.RXUsecs = x
		case "rx-frames":
			c.RXFrames = x
		case "tx-usecs":
			c.TXUsecs = x
		case "tx-frames":
			c.TXFrames = x
		}
	}
	return c
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func equalKV(a, b kv) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// RSS values: "even:N" for a table spread evenly over the first N queues
// (what the profile asks for, and what most drivers start with), or the
// whole table as queue numbers for anything else, so a revert restores it
// exactly.

func formatIndir(t []uint32) string {
	if n := ethtool.EvenQueues(t); n > 0 {
		return "even:" + strconv.Itoa(n)
	}
	return ethtool.FormatIndir(t)
}

// parseIndir turns an RSS value into a table of size entries.
func parseIndir(s string, size int) ([]uint32, error) {
	if t, ok, err := weightedIndir(s, size); ok {
		return t, err
	}
	if n, ok := strings.CutPrefix(s, "even:"); ok {
		q, err := strconv.Atoi(n)
		if err != nil || q < 1 {
			return nil, fmt.Errorf("RSS value %q: bad queue count", s)
		}
		return ethtool.EvenIndir(size, q), nil
	}
	t, err := ethtool.ParseIndir(s)
	if err != nil {
		return nil, err
	}
	if len(t) != size {
		return nil, fmt.Errorf("RSS table of %d entries for a device table of %d", len(t), size)
	}
	return t, nil
}

// featureAliases are ethtool(8)'s names for single kernel features
// (ethtool -K gro on). Names that stand for a group (tx, tso) are not
// here: the profile lists the kernel features of the group instead.
var featureAliases = map[string]string{
	"gro":                          "rx-gro",
	"generic-receive-offload":      "rx-gro",
	"lro":                          "rx-lro",
	"large-receive-offload":        "rx-lro",
	"gso":                          "tx-generic-segmentation",
	"generic-segmentation-offload": "tx-generic-segmentation",
	"rx":                           "rx-checksum",
	"rx-checksumming":              "rx-checksum",
	"rxhash":                       "rx-hashing",
	"receive-hashing":              "rx-hashing",
	"ntuple":                       "rx-ntuple-filter",
	"ntuple-filters":               "rx-ntuple-filter",
	"rxvlan":                       "rx-vlan-hw-parse",
	"rx-vlan-offload":              "rx-vlan-hw-parse",
	"txvlan":                       "tx-vlan-hw-insert",
	"tx-vlan-offload":              "tx-vlan-hw-insert",
	"sg":                           "tx-scatter-gather",
	"scatter-gather":               "tx-scatter-gather",
	"rx-gro-hw":                    "rx-gro-hw",
}

// featureName resolves a profile feature name against a device's features.
func featureName(name string, have map[string]ethtool.Feature) (string, error) {
	if _, ok := have[name]; ok {
		return name, nil
	}
	if k, ok := featureAliases[name]; ok {
		if _, ok := have[k]; ok {
			return k, nil
		}
	}
	near := suggestFeatures(name, have)
	msg := fmt.Sprintf("unknown feature %q", name)
	if len(near) > 0 {
		msg += "; did you mean " + strings.Join(near, ", ") + "?"
	}
	return "", fmt.Errorf("%s", msg)
}

// suggestFeatures picks, from the device's own feature names, those close
// to an unknown name: a misspelling (edit distance within a third of the
// name, at least 2), or a name that contains it or is contained in it.
// Closest first, at most five.
func suggestFeatures(name string, have map[string]ethtool.Feature) []string {
	type cand struct {
		name string
		dist int
	}
	var cs []cand
	limit := max(2, len(name)/3)
	for k := range have {
		d := profile.EditDistance(name, k)
		if d <= limit || strings.Contains(k, name) || strings.Contains(name, k) {
			cs = append(cs, cand{k, d})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].dist != cs[j].dist {
			return cs[i].dist < cs[j].dist
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for i := 0; i < len(cs) && i < 5; i++ {
		out = append(out, cs[i].name)
	}
	return out
}
