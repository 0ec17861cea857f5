package nics

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
)

// Per-device NAPI attributes (Documentation/networking/napi.rst, "Software
// IRQ coalescing" and "Threaded NAPI"), each a file in the device's sysfs
// directory and one change of this module.
const (
	attrDeferHardIRQs = "napi_defer_hard_irqs"
	attrGROFlush      = "gro_flush_timeout"
	attrThreaded      = "threaded"
)

// napiAttrs are the attributes above with their profile keys, in plan
// order: the timer before the deferral that relies on it.
var napiAttrs = []struct{ attr, key, since string }{
	{attrGROFlush, "groFlushTimeout", "3.19"},
	{attrDeferHardIRQs, "napiDeferHardIrqs", "5.7"},
	{attrThreaded, "threadedNapi", "5.12"},
}

// maxDeferHardIRQs is the kernel's limit on napi_defer_hard_irqs: it
// answers ERANGE above S32_MAX.
const maxDeferHardIRQs = 1<<31 - 1

func isNAPIAttr(a string) bool {
	return a == attrDeferHardIRQs || a == attrGROFlush || a == attrThreaded
}

// NAPIPath is the sysfs file of a NAPI attribute of an interface.
func NAPIPath(ifname, attr string) string { return "/sys/class/net/" + ifname + "/" + attr }

// napiWant returns the profile's value of attr for an entry, as the kernel
// prints it, and whether the entry sets it.
func napiWant(e profile.NIC, attr string) (string, bool) {
	switch {
	case attr == attrDeferHardIRQs && e.NAPIDeferHardIrqs != nil:
		return strconv.Itoa(*e.NAPIDeferHardIrqs), true
	case attr == attrGROFlush && e.GROFlushTimeout != nil:
		return e.GROFlushTimeout.String(), true
	case attr == attrThreaded && e.ThreadedNapi != nil:
		if *e.ThreadedNapi {
			return "1", true
		}
		return "0", true
	}
	return "", false
}

// ParseNAPIValue reads the content of a NAPI attribute file: a decimal
// number (napi_defer_hard_irqs is printed as unsigned, gro_flush_timeout
// as unsigned long, threaded as 0, 1, or 2 for busy-poll: NETDEV_NAPI_THREADED_BUSY_POLL, Linux 6.19, set through netlink).
func ParseNAPIValue(attr, raw string) (uint64, error) {
	s := strings.TrimSpace(raw)
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s reads %q, not a number", attr, raw)
	}
	if attr == attrThreaded && n > 2 {
		return 0, fmt.Errorf("threaded reads %d, not 0, 1 or 2", n)
	}
	if attr == attrDeferHardIRQs && n > maxDeferHardIRQs {
		return 0, fmt.Errorf("napi_defer_hard_irqs reads %d, above the kernel's limit %d", n, maxDeferHardIRQs)
	}
	return n, nil
}

// planNAPI plans the NAPI attributes an entry sets for one NIC.
func (p *planner) planNAPI(label string, n NIC, e profile.NIC) {
	p.checkDeferTimer(label, n, e)
	for _, a := range napiAttrs {
		want, ok := napiWant(e, a.attr)
		if !ok {
			continue
		}
		key := "spec." + label + "." + a.key
		hp := NAPIPath(n.Name, a.attr)
		raw, err := p.r.ReadString(p.r.Path(hp))
		if err != nil {
			if host.IsNotExist(err) {
				p.errorf(n.Name, "remove "+key+", or run a kernel that has it",
					"%s has no %s: the kernel predates it (Linux %s) or does not offer it for this device", n, hp, a.since)
				continue
			}
			p.errorf(n.Name, "", "read %s: %v", hp, err)
			continue
		}
		cur, err := ParseNAPIValue(a.attr, raw)
		if err != nil {
			p.errorf(n.Name, "", "%s: %v", hp, err)
			continue
		}
		if a.attr == attrThreaded && cur == 2 {
			p.errorf(n.Name, "remove "+key+", or set threaded mode through netlink (ynl netdev napi-set) where busy-poll is wanted",
				"%s reads 2 (threaded busy-poll, set through netlink): the sysfs file takes only 0 and 1, so nettune could neither change nor restore it", hp)
			continue
		}
		reason, detail := napiReason(a.attr, e)
		if a.attr == attrThreaded && want == "1" {
			if w := p.napiAbsent(n, e); w != "" {
				p.warnf(n.Name, "bring "+n.Name+" up with rx-gro on (spec."+label+".features: {rx-gro: true}) or attach an XDP program, or remove "+key, "%s", w)
			}
		}
		p.add(plan.Change{
			Object: n.Name, Attribute: a.attr, Before: strings.TrimSpace(raw), After: want, Path: hp,
			Reason:  reason,
			Command: fmt.Sprintf("echo %s > %s", want, host.ShellQuote(p.r.Path(hp))),
		}, strconv.FormatUint(cur, 10) == want, detail)
	}
}

func napiReason(attr string, e profile.NIC) (reason, detail string) {
	switch attr {
	case attrGROFlush:
		return "NAPI re-poll timer (ns): holds GRO packets and, with napi_defer_hard_irqs, keeps hard IRQs masked", ""
	case attrDeferHardIRQs:
		if e.GROFlushTimeout == nil {
			return "empty polls before hard IRQs are re-armed", ""
		}
		return "empty polls before hard IRQs are re-armed; the gro_flush_timeout timer polls meanwhile", ""
	}
	return "poll NAPI in kernel threads napi/<if>-<id> instead of softirq", ""
}

// napiAbsent says why the kernel will refuse threaded NAPI for n, when
// that can be told ahead: a veth has NAPI instances only while it is up
// with GRO requested or an XDP program attached (veth_open), and the
// kernel answers EOPNOTSUPP for a device without any. Other drivers
// register theirs at probe; for them the refusal is only known at apply.
func (p *planner) napiAbsent(n NIC, e profile.NIC) string {
	if n.Driver != "veth" {
		return ""
	}
	var why []string
	if raw, err := p.r.ReadString(p.r.Sys("class/net", n.Name, "flags")); err == nil {
		if f, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(raw), "0x"), 16, 32); err == nil && f&syscall.IFF_UP == 0 {
			why = append(why, "it is down")
		}
	}
	gro := false
	if fs, err := p.eth.Features(n.Name); err == nil {
		gro = fs["rx-gro"].Active
	}
	for k, on := range e.Features {
		if k == "rx-gro" || featureAliases[k] == "rx-gro" {
			gro = on
		}
	}
	if !gro {
		why = append(why, "rx-gro is off")
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprintf("%s (veth) has NAPI instances only while up with rx-gro on or an XDP program attached, and %s: unless an XDP program is attached, the kernel will refuse threaded NAPI (EOPNOTSUPP) and apply rolls back", n.Name, strings.Join(why, " and "))
}

// setNAPI writes one NAPI attribute and reads it back. A file that already
// holds the value is not written: the kernel refuses any write to threaded
// (0 included) for a device without NAPI instances, so a rollback of a
// refused change must not write.
func setNAPI(r *host.Root, c plan.Change, value string) error {
	want, err := ParseNAPIValue(c.Attribute, value)
	if err != nil {
		return fmt.Errorf("%s: journal value: %w", c.Path, err)
	}
	raw, err := r.ReadString(r.Path(c.Path))
	if err != nil {
		return err
	}
	if cur, err := ParseNAPIValue(c.Attribute, raw); err == nil && cur == want {
		return nil
	}
	if err := r.W.WriteKernel(r.Path(c.Path), value); err != nil {
		if c.Attribute == attrThreaded && errors.Is(err, syscall.EOPNOTSUPP) {
			return fmt.Errorf("%s: the kernel refuses threaded NAPI: the device has no NAPI instance now (a veth has them only while up with rx-gro on or XDP attached; other drivers when they poll with NAPI); remove threadedNapi for it: %w: %w", c.Object, err, module.ErrUnsupported)
		}
		return err
	}
	raw, err = r.ReadString(r.Path(c.Path))
	if err != nil {
		return fmt.Errorf("read back %s: %w", c.Path, err)
	}
	if got, err := ParseNAPIValue(c.Attribute, raw); err != nil || got != want {
		return verify("%s: wrote %s, reads back %q", c.Path, value, strings.TrimSpace(raw))
	}
	return nil
}

// checkDeferTimer warns when the entry defers hard IRQs while the timer
// stays at 0 (the profile's groFlushTimeout, else the device's): NAPI then
// arms no timer and re-enables the IRQ at once (diagnostic NT210).
func (p *planner) checkDeferTimer(label string, n NIC, e profile.NIC) {
	if e.NAPIDeferHardIrqs == nil || *e.NAPIDeferHardIrqs == 0 {
		return
	}
	if e.GROFlushTimeout != nil {
		if *e.GROFlushTimeout != 0 {
			return
		}
	} else {
		raw, err := p.r.ReadString(p.r.Path(NAPIPath(n.Name, attrGROFlush)))
		if cur, perr := ParseNAPIValue(attrGROFlush, raw); err != nil || perr != nil || cur != 0 {
			return
		}
	}
	p.warnf(n.Name, "add groFlushTimeout (e.g. 20us) to spec."+label+", or drop napiDeferHardIrqs",
		"spec.%s.napiDeferHardIrqs is %d but gro_flush_timeout of %s stays 0: without the timer NAPI re-enables the IRQ at once and the deferral has no effect", label, *e.NAPIDeferHardIrqs, n.Name)
}
