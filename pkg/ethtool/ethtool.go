// Package ethtool reads and changes the settings of a network interface
// that the kernel exposes through the ethtool ioctl (ring sizes, channel
// counts, interrupt coalescing, offload features, the RSS indirection table)
// and its transmit queue length.
//
// Callers use the small Interface below. Open picks the implementation for
// a root: on the live host a thin adapter over github.com/safchain/ethtool
// and github.com/vishvananda/netlink; on any other root (a fixture tree, a
// snapshot) a file-backed implementation that keeps each interface's
// ethtool state in a JSON file under StateDir, written through the root's
// Writer, so that offline plans, applies and reverts behave like the live
// ones and never touch the live host.
package ethtool

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/host"
)

// StateDir is where an offline root keeps one JSON file per interface
// (<ifname>.json) holding what ethtool reported on the host the snapshot
// was taken from. `nettune snapshot` writes it; fixtures carry it.
const StateDir = "/var/lib/nettune-snapshot/ethtool"

// ErrNotSupported is wrapped when the device or its driver does not
// implement an operation (the ioctl returns EOPNOTSUPP, or the offline
// state has no such section).
var ErrNotSupported = errors.New("not supported by the device")

// Rings are the descriptor ring sizes (ethtool -g / -G).
type Rings struct {
	RX    uint32 `json:"rx"`
	TX    uint32 `json:"tx"`
	RXMax uint32 `json:"rxMax"`
	TXMax uint32 `json:"txMax"`
}

// Channels are the queue counts (ethtool -l / -L).
type Channels struct {
	RX          uint32 `json:"rx"`
	TX          uint32 `json:"tx"`
	Other       uint32 `json:"other"`
	Combined    uint32 `json:"combined"`
	MaxRX       uint32 `json:"maxRx"`
	MaxTX       uint32 `json:"maxTx"`
	MaxOther    uint32 `json:"maxOther"`
	MaxCombined uint32 `json:"maxCombined"`
}

// RXQueues is the number of queues that receive: combined plus rx-only.
func (c Channels) RXQueues() uint32 { return c.Combined + c.RX }

// TXQueues is the number of queues that transmit: combined plus tx-only.
func (c Channels) TXQueues() uint32 { return c.Combined + c.TX }

// Coalesce is the part of the interrupt coalescing settings nettune
// manages (ethtool -c / -C).
type Coalesce struct {
	AdaptiveRX bool   `json:"adaptiveRx"`
	AdaptiveTX bool   `json:"adaptiveTx"`
	RXUsecs    uint32 `json:"rxUsecs"`
	RXFrames   uint32 `json:"rxFrames"`
	TXUsecs    uint32 `json:"txUsecs"`
	TXFrames   uint32 `json:"txFrames"`
	// Supported are the parameters the driver reports (ethtool -C names,
	// CoalesceParams order); the others read as zero from the ioctl and
	// "n/a" in ethtool -c, and setting them to anything but zero fails
	// with EOPNOTSUPP. nil means unknown (no ethtool netlink, or a state
	// file without the list): every parameter is taken as supported.
	Supported []string `json:"supported,omitempty"`
}

// CoalesceParams are ethtool -C's names of the ETHTOOL_A_COALESCE_*
// parameters, in the kernel's attribute order (ETHTOOL_A_COALESCE_RX_USECS
// is index 0, as bit 0 of ethtool_ops.supported_coalesce_params).
var CoalesceParams = []string{
	"rx-usecs", "rx-frames", "rx-usecs-irq", "rx-frames-irq",
	"tx-usecs", "tx-frames", "tx-usecs-irq", "tx-frames-irq",
	"stats-block-usecs", "adaptive-rx", "adaptive-tx",
	"pkt-rate-low", "rx-usecs-low", "rx-frames-low", "tx-usecs-low", "tx-frames-low",
	"pkt-rate-high", "rx-usecs-high", "rx-frames-high", "tx-usecs-high", "tx-frames-high",
	"sample-interval", "cqe-mode-tx", "cqe-mode-rx",
	"tx-aggr-max-bytes", "tx-aggr-max-frames", "tx-aggr-time-usecs",
}

// Supports reports whether the driver supports the parameter (an ethtool
// -C name); true when the supported set is unknown.
func (c Coalesce) Supports(param string) bool {
	return c.Supported == nil || slices.Contains(c.Supported, param)
}

// normParams sorts a parameter list in CoalesceParams order, without
// duplicates, and rejects names that are not parameters.
func normParams(ps []string) ([]string, error) {
	if ps == nil {
		return nil, nil
	}
	out := make([]string, 0, len(ps))
	for _, name := range CoalesceParams {
		if slices.Contains(ps, name) {
			out = append(out, name)
		}
	}
	for _, p := range ps {
		if !slices.Contains(CoalesceParams, p) {
			return nil, fmt.Errorf("coalescing parameter %q is not one of %s", p, strings.Join(CoalesceParams, ", "))
		}
	}
	return out, nil
}

// Feature is one offload as ethtool -k shows it.
type Feature struct {
	Active bool `json:"active"`
	// Fixed features cannot be changed ("[fixed]" in ethtool -k).
	Fixed bool `json:"fixed,omitempty"`
}

// Interface is what nettune needs from ethtool and netlink. Every setter
// changes only what it is given and leaves the other fields of the same
// ioctl as they are.
type Interface interface {
	// Driver is the kernel driver of the interface (ethtool -i).
	Driver(ifname string) (string, error)
	// PermAddr is the permanent MAC address, "" when the device has none.
	PermAddr(ifname string) (string, error)
	Rings(ifname string) (Rings, error)
	SetRings(ifname string, rx, tx uint32) error
	Channels(ifname string) (Channels, error)
	// SetChannels sets the four counts of c (the maxima are ignored).
	SetChannels(ifname string, c Channels) error
	Coalesce(ifname string) (Coalesce, error)
	SetCoalesce(ifname string, c Coalesce) error
	// Features maps each feature's kernel name (rx-gro, tx-tcp-segmentation)
	// to its state.
	Features(ifname string) (map[string]Feature, error)
	SetFeatures(ifname string, want map[string]bool) error
	// Indir is the RSS indirection table: entry i is the rx queue that
	// hash bucket i goes to.
	Indir(ifname string) ([]uint32, error)
	// SetIndir replaces the whole table; it must have the device's size.
	// The kernel then counts the table as set by the user
	// (netif_is_rxfh_configured) and refuses channel counts that would
	// leave it pointing at queues that go away.
	SetIndir(ifname string, table []uint32) error
	// ResetIndir gives the table back to the driver (ETHTOOL_SRXFHINDIR
	// with size 0): its default spread over the rx queues, no longer
	// counted as user-set, so later channel changes re-spread it.
	ResetIndir(ifname string) error
	// TxQueueLen is the interface's transmit queue length (ip link
	// txqueuelen).
	TxQueueLen(ifname string) (int, error)
	SetTxQueueLen(ifname string, n int) error
	// Stats are the driver's statistics (ethtool -S), by the driver's
	// names. They are read, never written.
	Stats(ifname string) (map[string]uint64, error)
	Close() error
}

// Open returns the implementation for a root: the live adapter for "/",
// the state files under StateDir for anything else.
func Open(r *host.Root) (Interface, error) {
	if r.Live() {
		return openLive()
	}
	return &Files{Root: r}, nil
}

// TxQueueLenPath is the sysfs attribute that holds the transmit queue
// length; the offline implementation reads and writes it, and plans name
// it as the object they change.
func TxQueueLenPath(ifname string) string { return "/sys/class/net/" + ifname + "/tx_queue_len" }

// FormatIndir writes a table as space-separated queue numbers.
func FormatIndir(t []uint32) string {
	parts := make([]string, len(t))
	for i, v := range t {
		parts[i] = strconv.FormatUint(uint64(v), 10)
	}
	return strings.Join(parts, " ")
}

// ParseIndir reads FormatIndir's output.
func ParseIndir(s string) ([]uint32, error) {
	fields := strings.Fields(s)
	out := make([]uint32, len(fields))
	for i, f := range fields {
		v, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("indirection table entry %d %q is not a queue number", i, f)
		}
		out[i] = uint32(v)
	}
	return out, nil
}

// EvenIndir returns a table of size entries spread over the first n
// queues, as `ethtool -X equal n` writes it: entry i goes to queue i mod n.
func EvenIndir(size, n int) []uint32 {
	t := make([]uint32, size)
	for i := range t {
		t[i] = uint32(i % n)
	}
	return t
}

// BlockIndir is a table of size entries over n queues in runs, the way
// igb fills its default table (entry j on queue j*n/size).
func BlockIndir(size, n int) []uint32 {
	t := make([]uint32, size)
	for j := range t {
		t[j] = uint32(j * n / size)
	}
	return t
}

// BalancedQueues reports n when t uses exactly the queues 0..n-1, each as
// often as the others (give or take one entry): the shape of every
// driver's default table, whatever order the driver fills it in. 0
// otherwise.
func BalancedQueues(t []uint32) int {
	if len(t) == 0 {
		return 0
	}
	counts := map[uint32]int{}
	for _, v := range t {
		counts[v]++
	}
	n := len(counts)
	lo, hi := len(t)/n, (len(t)+n-1)/n
	for q := 0; q < n; q++ {
		c, ok := counts[uint32(q)]
		if !ok || c < lo || c > hi {
			return 0
		}
	}
	return n
}

// EvenQueues reports n when t is EvenIndir(len(t), n), else 0.
func EvenQueues(t []uint32) int {
	if len(t) == 0 {
		return 0
	}
	var hi uint32
	for _, v := range t {
		hi = max(hi, v)
	}
	n := int(hi) + 1
	for i, v := range t {
		if v != uint32(i%n) {
			return 0
		}
	}
	return n
}

// MaxQueue returns the highest queue a table uses, or -1 for an empty one.
func MaxQueue(t []uint32) int {
	hi := -1
	for _, v := range t {
		hi = max(hi, int(v))
	}
	return hi
}
