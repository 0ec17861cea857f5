package diagnose

import (
	"fmt"
	"strings"
)

// farFactor is how far a coalescing value may be from the profile's
// before NT207 calls it far: a driver rounds to its own steps (igb keeps
// rx-usecs in units of 4, ice in 2), never by half.
const farFactor = 2

// ruleCoalesceFar (NT207): a NIC's interrupt coalescing is far from what
// the profile sets: adaptive moderation the other way, or a value at
// least farFactor times larger or smaller, or off (0) where the profile
// wants it on. check lists every difference as drift; this rule says
// which ones change the interrupt rate a lot, and why they come back.
func ruleCoalesceFar(in *Input) []Finding {
	le := &lazyEthtool{root: in.Root}
	defer le.close()
	var out []Finding
	for _, pn := range profileNICs(in) {
		want := in.Spec.NICs[pn.Index].Coalesce
		if want == nil {
			continue
		}
		eth, err := le.get()
		if err != nil {
			return nil
		}
		cur, err := eth.Coalesce(pn.Name)
		if err != nil {
			continue
		}
		var ev []string
		flag := func(name string, w *bool, c bool) {
			if w != nil && *w != c {
				ev = append(ev, fmt.Sprintf("%s %s (profile %s)", name, onOff(c), onOff(*w)))
			}
		}
		num := func(name string, w *int, c uint32) {
			if w == nil || !cur.Supports(name) {
				return
			}
			v, x := uint64(c), uint64(*w)
			if v == x {
				return
			}
			// Off where the profile wants it on, or the other way; or
			// a factor of two or more apart.
			if x == 0 || v == 0 || v*farFactor <= x || x*farFactor <= v {
				ev = append(ev, fmt.Sprintf("%s %d (profile %d)", name, v, x))
			}
		}
		flag("adaptive-rx", want.AdaptiveRX, cur.AdaptiveRX)
		flag("adaptive-tx", want.AdaptiveTX, cur.AdaptiveTX)
		num("rx-usecs", want.RXUsecs, cur.RXUsecs)
		num("tx-usecs", want.TXUsecs, cur.TXUsecs)
		num("rx-frames", want.RXFrames, cur.RXFrames)
		num("tx-frames", want.TXFrames, cur.TXFrames)
		if len(ev) == 0 {
			continue
		}
		out = append(out, Finding{
			Severity: Warning, Object: pn.Name,
			Message:  fmt.Sprintf("%s's interrupt coalescing is far from spec.nics[%d].coalesce", pn.Name, pn.Index),
			Evidence: strings.Join(ev, "; "),
			Remedy:   fmt.Sprintf("nettune apply sets it again (ethtool -C %s); if it keeps coming back, find who resets it: a driver reset on link change or channel change restores its defaults, and NetworkManager, systemd-networkd .link files and tuned set coalescing too (NT405, NT407, NT402)", pn.Name),
		})
	}
	return out
}
