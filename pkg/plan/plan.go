// Package plan holds the values nettune computes before it touches a host:
// changes (what would be written, from what to what, when it takes effect
// and why), the per-item status that check reports, and problems found while
// validating a profile against the host.
//
// A Change is plain data. It is rendered as a table or as JSON, written to
// the apply journal, and handed back to its module to revert, so everything a
// module needs to undo a change lives in the Change itself.
package plan

import "fmt"

// FormatVersion is the version of the JSON documents nettune prints.
const FormatVersion = "1"

// When says when a change takes effect.
type When string

const (
	// Live changes take effect as soon as they are written.
	Live When = "live"
	// Boot changes take effect at the next boot (kernel arguments).
	Boot When = "boot"
)

// Action says what a change does to its object.
type Action string

const (
	// Set replaces an existing value.
	Set Action = "set"
	// Create makes an object that did not exist (Before is empty).
	Create Action = "create"
	// Delete removes an object (After is empty).
	Delete Action = "delete"
)

// Status is what check reports for one desired item.
type Status string

const (
	// OK means the host has the desired value.
	OK Status = "ok"
	// Drift means the host differs from the profile.
	Drift Status = "drift"
	// PendingReboot means the configuration is in place but the running
	// kernel does not have it yet.
	PendingReboot Status = "pending-reboot"
	// Unsupported means the host cannot have the item (reported, not fatal).
	Unsupported Status = "unsupported"
)

// Change is one write nettune would make (in a plan) or made (in the
// journal).
type Change struct {
	Module    string `json:"module" yaml:"module"`
	Object    string `json:"object" yaml:"object"`
	Attribute string `json:"attribute" yaml:"attribute"`
	Action    Action `json:"action" yaml:"action"`
	Before    string `json:"before" yaml:"before"`
	After     string `json:"after" yaml:"after"`
	When      When   `json:"when" yaml:"when"`
	Reason    string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// Path is the host file the change writes, when it writes a file.
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// Command is the equivalent shell command an operator could run.
	Command string `json:"command,omitempty" yaml:"command,omitempty"`
	// Device is the stable identity (PCI address) of an object whose name
	// can change, such as a network interface that is renamed when its
	// device is rebound; revert finds the object by it.
	Device string `json:"device,omitempty" yaml:"device,omitempty"`
	// Undo marks a change that takes back an earlier one (a setting the
	// profile no longer sets, returned to its value before nettune). It is
	// made by the module's revert of Forward() and undone by its apply,
	// the module's best-tested paths for exactly these two states.
	Undo bool `json:"undo,omitempty" yaml:"undo,omitempty"`
}

// Forward returns, for an Undo change, the change in the direction the
// module made it originally (Before is what is restored); for any other
// change, c itself.
func (c Change) Forward() Change {
	if !c.Undo {
		return c
	}
	f := c.Inverse()
	f.Undo, f.Reason, f.Command = false, c.Reason, c.Command
	return f
}

// Key identifies the object and attribute a change is about.
func (c Change) Key() string { return c.Module + "/" + c.Object + "/" + c.Attribute }

// Inverse returns the change that undoes c.
func (c Change) Inverse() Change {
	inv := c
	inv.Before, inv.After = c.After, c.Before
	switch c.Action {
	case Create:
		inv.Action = Delete
	case Delete:
		inv.Action = Create
	}
	inv.Command = ""
	inv.Reason = "revert"
	return inv
}

func (c Change) String() string {
	return fmt.Sprintf("%s %s %s: %q -> %q (%s)", c.Module, c.Object, c.Attribute, c.Before, c.After, c.When)
}

// Item is one desired setting and how the host compares to it. Change
// holds the observed value in Before and the desired one in After; it is
// only applied when Status is Drift.
type Item struct {
	Change
	Status Status `json:"status" yaml:"status"`
	// Detail explains a status other than ok (for example what the running
	// kernel has while the bootloader is already configured).
	Detail string `json:"detail,omitempty" yaml:"detail,omitempty"`
	// Orphan marks a setting an earlier generation made that the profile
	// no longer sets: the change returns it to the value it had before
	// nettune (apply --keep-orphans keeps it instead).
	Orphan bool `json:"orphan,omitempty" yaml:"orphan,omitempty"`
	// CheckOnly marks drift that apply cannot fix: the running kernel was
	// booted with what the profile asks and did not do it (1G pages it
	// could not place, nohz_full it does not support). check reports it;
	// plan and apply leave it out, Detail says what to do.
	CheckOnly bool `json:"check_only,omitempty" yaml:"check_only,omitempty"`
}

// Ignored is a check-only drift item: the running kernel was booted with
// After for object and shows Before.
func Ignored(module, object, attribute, before, after, detail string) Item {
	return Item{Change: Change{Module: module, Object: object, Attribute: attribute, Action: Set,
		Before: before, After: after, When: Boot, Reason: "the running kernel was booted with it"},
		Status: Drift, CheckOnly: true, Detail: detail}
}

// Severity of a problem.
type Severity string

const (
	// Error problems stop plan and apply before anything is touched.
	Error Severity = "error"
	// Warning problems are shown and do not stop anything.
	Warning Severity = "warning"
)

// Problem is something found while validating a profile against a host.
type Problem struct {
	Severity Severity `json:"severity" yaml:"severity"`
	Module   string   `json:"module" yaml:"module"`
	Object   string   `json:"object,omitempty" yaml:"object,omitempty"`
	Message  string   `json:"message" yaml:"message"`
	// Remedy says what to do about it.
	Remedy string `json:"remedy,omitempty" yaml:"remedy,omitempty"`
	// Where is the profile's file:line:col that asked for what the
	// problem is about, when known.
	Where string `json:"where,omitempty" yaml:"where,omitempty"`
}

func (p Problem) String() string {
	s := p.Module
	if p.Where != "" {
		s = p.Where + ": " + s
	}
	if p.Object != "" {
		s += " " + p.Object
	}
	s += ": " + p.Message
	if p.Remedy != "" {
		s += " (" + p.Remedy + ")"
	}
	return s
}
