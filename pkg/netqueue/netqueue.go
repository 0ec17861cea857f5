// Package netqueue manages the packet steering files of a network
// interface's queues in sysfs: rps_cpus and rps_flow_cnt of each rx queue
// (Receive Packet and Flow Steering), xps_cpus of each tx queue (Transmit
// Packet Steering), and the global socket flow table that RFS needs,
// net.core.rps_sock_flow_entries.
//
// Masks are the kernel's comma-separated 32-bit hex words (pkg/cpuset), so
// hosts with more than 32 or 64 CPUs are handled; values are compared as
// CPU sets, never as strings, because the kernel prints masks as wide as
// its possible CPUs.
package netqueue

import (
	"fmt"
	"math/bits"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/host"
)

// SockFlowEntriesPath is net.core.rps_sock_flow_entries. The kernel keeps it
// in the initial network namespace only.
const SockFlowEntriesPath = "/proc/sys/net/core/rps_sock_flow_entries"

// MaxSockFlowEntries is the largest table the kernel accepts (1<<29).
const MaxSockFlowEntries = 1 << 29

// RPSPath is the rps_cpus file of rx queue q.
func RPSPath(ifname string, q int) string {
	return "/sys/class/net/" + ifname + "/queues/rx-" + strconv.Itoa(q) + "/rps_cpus"
}

// FlowCntPath is the rps_flow_cnt file of rx queue q.
func FlowCntPath(ifname string, q int) string {
	return "/sys/class/net/" + ifname + "/queues/rx-" + strconv.Itoa(q) + "/rps_flow_cnt"
}

// XPSPath is the xps_cpus file of tx queue q.
func XPSPath(ifname string, q int) string {
	return "/sys/class/net/" + ifname + "/queues/tx-" + strconv.Itoa(q) + "/xps_cpus"
}

// RXQueues lists the rx queue numbers of an interface (queues/rx-N).
func RXQueues(r *host.Root, ifname string) ([]int, error) { return queues(r, ifname, "rx-") }

// TXQueues lists the tx queue numbers of an interface (queues/tx-N).
func TXQueues(r *host.Root, ifname string) ([]int, error) { return queues(r, ifname, "tx-") }

// List lists both: the rx and tx queue numbers of an interface, from one
// reading of its queues directory.
func List(r *host.Root, ifname string) (rx, tx []int, err error) {
	f, err := os.Open(r.Sys("class/net", ifname, "queues"))
	if err != nil {
		return nil, nil, fmt.Errorf("list queues of %s: %w", ifname, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, nil, fmt.Errorf("list queues of %s: %w", ifname, err)
	}
	for _, name := range names {
		for _, q := range []struct {
			prefix string
			out    *[]int
		}{{"rx-", &rx}, {"tx-", &tx}} {
			if s, ok := strings.CutPrefix(name, q.prefix); ok {
				if n, err := strconv.Atoi(s); err == nil && n >= 0 {
					*q.out = append(*q.out, n)
				}
			}
		}
	}
	sort.Ints(rx)
	sort.Ints(tx)
	return rx, tx, nil
}

func queues(r *host.Root, ifname, prefix string) ([]int, error) {
	entries, err := os.ReadDir(r.Sys("class/net", ifname, "queues"))
	if err != nil {
		return nil, fmt.Errorf("list queues of %s: %w", ifname, err)
	}
	var out []int
	for _, e := range entries {
		if s, ok := strings.CutPrefix(e.Name(), prefix); ok {
			if n, err := strconv.Atoi(s); err == nil && n >= 0 {
				out = append(out, n)
			}
		}
	}
	sort.Ints(out)
	return out, nil
}

// Spread returns the CPUs of each of n queues: the whole set for every
// queue, or with one a share of it: when there are fewer queues than CPUs
// the CPUs are split into n consecutive runs whose sizes differ by at
// most one, so that every CPU is mapped (64 queues over 256 CPUs: 4 each);
// otherwise one CPU each, round-robin.
func Spread(n int, cpus cpuset.Set, one bool) []cpuset.Set {
	out := make([]cpuset.Set, n)
	list := cpus.List()
	for i := range out {
		switch {
		case !one || len(list) == 0:
			out[i] = cpus
		case n < len(list):
			out[i] = cpuset.Of(list[i*len(list)/n : (i+1)*len(list)/n]...)
		default:
			out[i] = cpuset.Of(list[i%len(list)])
		}
	}
	return out
}

// FlowCount is the rps_flow_cnt of each of queues rx queues for a socket
// flow table of entries: entries/queues, rounded up to a power of two as
// the kernel rounds it (so that it reads back as written).
func FlowCount(entries, queues int) int {
	if entries <= 0 || queues <= 0 {
		return 0
	}
	return RoundUpPow2(entries / queues)
}

// RoundUpPow2 rounds n up to a power of two (0 stays 0).
func RoundUpPow2(n int) int {
	if n <= 1 {
		return n
	}
	return 1 << bits.Len(uint(n-1))
}

// ReadMask reads a mask file: its raw content and the CPUs it names.
func ReadMask(r *host.Root, hostPath string) (string, cpuset.Set, error) {
	raw, err := r.ReadString(r.Path(hostPath))
	return ParseMask(hostPath, raw, err)
}

// ParseMask is ReadMask of a file already read (raw and err are what
// ReadString returned for it).
func ParseMask(hostPath, raw string, err error) (string, cpuset.Set, error) {
	if err != nil {
		return "", cpuset.Set{}, err
	}
	s, err := cpuset.ParseMask(raw)
	if err != nil {
		return raw, cpuset.Set{}, fmt.Errorf("%s: %w", hostPath, err)
	}
	return raw, s, nil
}

// WriteMask writes a mask file and checks that it reads back as the same
// CPUs.
func WriteMask(r *host.Root, hostPath, mask string) error {
	want, err := cpuset.ParseMask(mask)
	if err != nil {
		return err
	}
	if err := r.W.WriteKernel(r.Path(hostPath), mask); err != nil {
		return err
	}
	raw, got, err := ReadMask(r, hostPath)
	if err != nil {
		return fmt.Errorf("read back %s: %w", hostPath, err)
	}
	if !got.Equal(want) {
		return fmt.Errorf("%s: wrote %s (CPUs %s), reads back %s (CPUs %s): %w", hostPath, mask, want, raw, got, ErrVerify)
	}
	return nil
}

// ReadCount reads a number file.
func ReadCount(r *host.Root, hostPath string) (string, int, error) {
	raw, err := r.ReadString(r.Path(hostPath))
	return ParseCount(hostPath, raw, err)
}

// ParseCount is ReadCount of a file already read.
func ParseCount(hostPath, raw string, err error) (string, int, error) {
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		return raw, 0, fmt.Errorf("%s reads %q, not a number", hostPath, raw)
	}
	return raw, n, nil
}

// WriteCount writes a number file and checks that it reads back.
func WriteCount(r *host.Root, hostPath, value string) error {
	want, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil {
		return fmt.Errorf("%s: %q is not a number", hostPath, value)
	}
	if err := r.W.WriteKernel(r.Path(hostPath), value); err != nil {
		return err
	}
	raw, got, err := ReadCount(r, hostPath)
	if err != nil {
		return fmt.Errorf("read back %s: %w", hostPath, err)
	}
	if got != want {
		return fmt.Errorf("%s: wrote %d, reads back %s: %w", hostPath, want, raw, ErrVerify)
	}
	return nil
}

// ErrVerify is wrapped when a value does not read back as written.
var ErrVerify = fmt.Errorf("read-back differs from the written value")

// Mask spells a CPU set as the kernel prints masks on a machine with nbits
// possible CPUs: Set.Mask's 32-bit words, the most significant one only as
// wide as nbits needs ("30" with 8 CPUs, "00,00000030" with 40), so that a
// written mask reads back byte for byte.
func Mask(s cpuset.Set, nbits int) string {
	if m := s.Max() + 1; m > nbits {
		nbits = m
	}
	nbits = max(nbits, 1)
	m := s.Mask(nbits)
	first, rest, _ := strings.Cut(m, ",")
	digits := ((nbits-1)%32)/4 + 1
	first = first[len(first)-digits:]
	if rest == "" {
		return first
	}
	return first + "," + rest
}
