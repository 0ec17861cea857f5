package dataplane

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Forwarding modes.
const (
	// ModeIO forwards packets without touching them.
	ModeIO = "io"
	// ModeMAC rewrites the source MAC to the egress port's address and the
	// destination MAC to the egress port's PeerMAC, like DPDK's l2fwd.
	ModeMAC = "mac"
)

// Defaults used for zero fields of a Config.
const (
	DefaultBurst       = 32
	DefaultRxDesc      = 1024
	DefaultTxDesc      = 1024
	DefaultLinkTimeout = 3 * time.Second
	// MaxBurst is the largest burst a worker handles.
	MaxBurst = 512
	// MaxStreams bounds the (rx port, tx port) streams one worker serves.
	MaxStreams = 64
	// MinBurst is the smallest burst: the vector rx paths of Intel PMDs
	// (i40e, ixgbe, ice, iavf) handle 4 descriptors per step and return
	// nothing for a smaller burst.
	MinBurst = 4
	// MbufHeadroom is the headroom DPDK reserves at the front of every
	// mbuf's data room (RTE_PKTMBUF_HEADROOM).
	MbufHeadroom = 128
	// DefaultMbufDataSize is an mbuf's data room, headroom included
	// (RTE_MBUF_DEFAULT_BUF_SIZE): frames up to 2048 bytes.
	DefaultMbufDataSize = 2048 + MbufHeadroom
	// MinMTU and MaxMTU bound Config.MTU (the device's range is checked at
	// start).
	MinMTU = 68
	MaxMTU = 65535 - 26
)

var (
	// ErrInvalidConfig is wrapped by every error about a Config.
	ErrInvalidConfig = errors.New("invalid dataplane config")
	// ErrEALUsed is returned by a second Start in one process.
	ErrEALUsed = errors.New("dpdk eal already initialised in this process")
	// ErrNoDPDK is returned by Start in a build without DPDK.
	ErrNoDPDK = errors.New("nettune was built without the dpdk forwarder")
	// ErrStopped is returned by Stop on a forwarder that is already stopped.
	ErrStopped = errors.New("forwarder already stopped")
)

// Port is one DPDK port: a PCI device bound to a DPDK-capable driver or a
// virtual device.
type Port struct {
	// Name labels the port in stats and errors; it defaults to the PCI
	// address or the vdev name.
	Name string
	// PCI is the device's PCI address ("0000:03:00.0" or "03:00.0").
	PCI string
	// Vdev is a DPDK virtual device with its arguments, such as
	// "net_null0" or "net_af_packet0,iface=veth0". Exactly one of PCI and
	// Vdev is set.
	Vdev string
	// PeerMAC is the destination MAC written in mac mode on packets leaving
	// this port. Nil means 02:00:00:00:00:<port index>, like testpmd.
	PeerMAC net.HardwareAddr
	// Socket is the port's NUMA node, -1 when unknown. Start replaces it by
	// the node DPDK reports for the device when there is one.
	Socket int
}

// DeviceName is the name DPDK knows the port by: the canonical PCI address
// or the vdev name without its arguments.
func (p Port) DeviceName() string {
	if p.Vdev != "" {
		name, _, _ := strings.Cut(p.Vdev, ",")
		return name
	}
	if strings.Count(p.PCI, ":") == 1 {
		return "0000:" + p.PCI
	}
	return p.PCI
}

// Label names the port in messages: its name, else its device.
func (p Port) Label() string {
	if p.Name != "" {
		return p.Name
	}
	return p.DeviceName()
}

// Config describes one forwarder.
type Config struct {
	Ports []Port
	// Pairs are indexes into Ports; forwarding is bidirectional within a
	// pair. A pair of one port with itself sends packets back out the port
	// they came in on. Every port is in exactly one pair.
	Pairs [][2]int
	// Mode is ModeIO or ModeMAC; empty means ModeIO.
	Mode string
	// Lcores are the worker CPUs, one worker per CPU.
	Lcores []int
	// MainCPUs is the housekeeping CPU set the main lcore (and with it the
	// Go runtime and the EAL control threads) floats on. It must not
	// overlap Lcores. Start fills an empty set with the process's allowed
	// CPUs minus Lcores; EALArgs requires it.
	MainCPUs []int
	// RxDesc and TxDesc are descriptors per queue, Burst packets per
	// rx/tx call; zero means the defaults.
	RxDesc, TxDesc, Burst int
	// NoHuge runs the EAL without hugepages (--no-huge), for vdevs only.
	NoHuge bool
	// MemoryMB is the EAL's memory (-m); zero leaves the EAL default.
	MemoryMB int
	// TxFirst makes each worker send one burst of generated packets on
	// each port it transmits on at start, so traffic circulates on
	// looped links.
	TxFirst bool
	// FilePrefix is the EAL --file-prefix; empty means nettune-<pid>.
	FilePrefix string
	// ExtraEAL is appended to the EAL arguments.
	ExtraEAL []string
	// MTU is set on every port (rxmode.mtu): frames of MTU + 18 bytes
	// (Ethernet header and CRC) are received. Zero keeps the devices'
	// default (1500).
	MTU int
	// MbufDataSize is each mbuf's data room, MbufHeadroom included; zero
	// means DefaultMbufDataSize. Frames longer than the data room minus
	// the headroom are received in chains of mbufs (rx scatter), which the
	// port must offer.
	MbufDataSize int
	// RTPriority runs the workers SCHED_FIFO at this priority (1-99); zero
	// leaves them SCHED_OTHER.
	RTPriority int
	// LinkTimeout bounds the wait for links to come up at start; zero means
	// DefaultLinkTimeout, negative means no wait. A link still down after
	// it is reported in PortStats.LinkUp, not as an error.
	LinkTimeout time.Duration
}

// WithDefaults returns cfg with zero fields replaced by their defaults.
func (cfg Config) WithDefaults() Config {
	if cfg.Mode == "" {
		cfg.Mode = ModeIO
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.RxDesc == 0 {
		cfg.RxDesc = DefaultRxDesc
	}
	if cfg.TxDesc == 0 {
		cfg.TxDesc = DefaultTxDesc
	}
	if cfg.LinkTimeout == 0 {
		cfg.LinkTimeout = DefaultLinkTimeout
	}
	if cfg.MbufDataSize == 0 {
		cfg.MbufDataSize = DefaultMbufDataSize
	}
	return cfg
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// Validate checks cfg (with defaults applied) without looking at the host.
func (cfg Config) Validate() error {
	if len(cfg.Ports) == 0 {
		return invalid("no ports")
	}
	names := map[string]int{}
	for i, p := range cfg.Ports {
		if (p.PCI == "") == (p.Vdev == "") {
			return invalid("port %d (%q): set exactly one of pci and vdev", i, p.Name)
		}
		if prev, ok := names[p.DeviceName()]; ok {
			return invalid("port %d: device %q already used by port %d", i, p.DeviceName(), prev)
		}
		names[p.DeviceName()] = i
		if p.PeerMAC != nil && len(p.PeerMAC) != 6 {
			return invalid("port %s: peer mac %q is not an ethernet address", p.Label(), p.PeerMAC)
		}
	}
	if len(cfg.Pairs) == 0 {
		return invalid("no port pairs")
	}
	inPair := make([]int, len(cfg.Ports))
	for i, pr := range cfg.Pairs {
		for _, p := range pr {
			if p < 0 || p >= len(cfg.Ports) {
				return invalid("pair %d: port index %d out of range 0-%d", i, p, len(cfg.Ports)-1)
			}
		}
		inPair[pr[0]]++
		if pr[1] != pr[0] {
			inPair[pr[1]]++
		}
	}
	for i, n := range inPair {
		if n != 1 {
			return invalid("port %s is in %d pairs, want exactly 1", cfg.Ports[i].Label(), n)
		}
	}
	switch cfg.Mode {
	case ModeIO, ModeMAC:
	default:
		return invalid("mode %q: want %q or %q", cfg.Mode, ModeIO, ModeMAC)
	}
	if len(cfg.Lcores) == 0 {
		return invalid("no worker cpus")
	}
	seen := map[int]bool{}
	for _, c := range cfg.Lcores {
		if c < 0 {
			return invalid("worker cpu %d is negative", c)
		}
		if seen[c] {
			return invalid("worker cpu %d listed twice", c)
		}
		seen[c] = true
	}
	for _, c := range cfg.MainCPUs {
		if c < 0 {
			return invalid("housekeeping cpu %d is negative", c)
		}
		if seen[c] {
			return invalid("cpu %d is both a worker and a housekeeping cpu", c)
		}
	}
	if cfg.Burst < MinBurst || cfg.Burst > MaxBurst {
		return invalid("burst %d: want %d-%d (the vector rx paths of i40e, ixgbe, ice and iavf receive nothing with bursts under %d)", cfg.Burst, MinBurst, MaxBurst, MinBurst)
	}
	if cfg.MTU != 0 && (cfg.MTU < MinMTU || cfg.MTU > MaxMTU) {
		return invalid("mtu %d: want %d-%d, or 0 for the devices' default", cfg.MTU, MinMTU, MaxMTU)
	}
	if cfg.MbufDataSize < MbufHeadroom+64 || cfg.MbufDataSize > 65535 {
		return invalid("mbuf data size %d: want %d-65535 (the %d-byte headroom and at least a 64-byte frame)", cfg.MbufDataSize, MbufHeadroom+64, MbufHeadroom)
	}
	if cfg.RxDesc < 1 || cfg.RxDesc > 65535 || cfg.TxDesc < 1 || cfg.TxDesc > 65535 {
		return invalid("descriptors rx %d tx %d: want 1-65535", cfg.RxDesc, cfg.TxDesc)
	}
	if cfg.RTPriority < 0 || cfg.RTPriority > 99 {
		return invalid("real-time priority %d: want 1-99, or 0 for SCHED_OTHER workers", cfg.RTPriority)
	}
	if cfg.MemoryMB < 0 {
		return invalid("memory %d MB is negative", cfg.MemoryMB)
	}
	if cfg.NoHuge {
		for _, p := range cfg.Ports {
			if p.PCI != "" {
				return invalid("port %s: a pci device needs hugepages (no_huge is set)", p.Label())
			}
		}
	}
	return nil
}

// PeerMAC is the destination MAC for packets leaving port i in mac mode.
func (cfg Config) PeerMAC(i int) net.HardwareAddr {
	if m := cfg.Ports[i].PeerMAC; m != nil {
		return m
	}
	return net.HardwareAddr{0x02, 0, 0, 0, 0, byte(i)}
}

// sortedCPUs returns the CPUs sorted and without duplicates.
func sortedCPUs(cpus []int) []int {
	c := slices.Clone(cpus)
	slices.Sort(c)
	return slices.Compact(c)
}
