// Package forwarder is nettune's DPDK forwarder: the C workers (fwd.c) and
// the cgo that starts, reads and stops them, the only cgo package of
// nettune. Only the nettune-forwarder program (cmd/nettune-forwarder, see
// [Main]) links it, so nettune itself links no DPDK library; its
// configuration, layout, EAL arguments and counters are the pure-Go types of
// package dataplane, whose documentation describes threads, counters and
// files left behind.
package forwarder
