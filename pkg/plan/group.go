package plan

import "strings"

// QueueGroup is the group of like objects a per-queue object belongs to:
// the rx queues, the tx queues or the queue IRQs of one NIC. A host has a
// few of these per NIC whatever its queue count, so check's table and the
// exporter's series fold the members of a group into one.
type QueueGroup struct {
	// NIC is the interface the queues belong to.
	NIC string
	// Kind names the members: "rx queues", "tx queues" or "IRQs".
	Kind string
	// Glob matches every member's object and no other object:
	// "ens3f0/rx-*", "ens3f0/tx-*", "ens3f0/* (irq *)".
	Glob string
}

// QueueGroupOf splits a per-queue object ("ens3f0/rx-12") or a queue IRQ
// ("ens3f0/TxRx-3 (irq 215)") into its group; false for any other object.
func QueueGroupOf(object string) (QueueGroup, bool) {
	nic, rest, ok := strings.Cut(object, "/")
	switch {
	case !ok || nic == "":
		return QueueGroup{}, false
	case strings.HasSuffix(rest, ")") && strings.Contains(rest, " (irq "):
		return QueueGroup{nic, "IRQs", nic + "/* (irq *)"}, true
	case strings.HasPrefix(rest, "rx-"):
		return QueueGroup{nic, "rx queues", nic + "/rx-*"}, true
	case strings.HasPrefix(rest, "tx-"):
		return QueueGroup{nic, "tx queues", nic + "/tx-*"}, true
	}
	return QueueGroup{}, false
}
