// Package pmqos holds a PM QoS CPU latency request on /dev/cpu_dma_latency
// for as long as a process needs it (nettune run, while the forwarder
// runs).
//
// The kernel's interface (Documentation/power/pm_qos_interface.rst): each
// open file of /dev/cpu_dma_latency is one request; writing a 32-bit
// signed integer (native byte order, or an ASCII hex string) sets it in
// microseconds; closing the file removes it. Reading gives the aggregate
// in force, the smallest request of all, as the same 32-bit integer. The
// cpuidle governor then keeps every CPU out of idle states whose exit
// latency is above it: 0 means no C-state at all (the CPUs poll).
package pmqos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nettune/nettune/pkg/host"
)

// Device is the PM QoS CPU latency device.
const Device = "/dev/cpu_dma_latency"

// Default is the aggregate without any request
// (PM_QOS_CPU_LATENCY_DEFAULT_VALUE, 2000 s).
const Default = 2000000000

// ErrNotHeld is returned when the aggregate read after the write is
// above the requested value: the request did not take effect.
var ErrNotHeld = errors.New("the PM QoS latency in force is above the request")

// Holder is one open request. Close removes it.
type Holder struct {
	f     *os.File
	path  string
	Value int32
}

// Hold opens the device under r, writes the request and reads back the
// aggregate in force, which must be at most us. The request lasts until
// Close (or the process's exit: the kernel drops it with the file).
func Hold(r *host.Root, us int32) (*Holder, error) {
	if us < 0 {
		return nil, fmt.Errorf("cpu dma latency %d: want microseconds >= 0", us)
	}
	p := r.Dev("cpu_dma_latency")
	// O_RDWR without O_CREAT: a missing device is an error, never a file.
	f, err := r.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("hold %s at %d us: %w", Device, us, err)
	}
	h := &Holder{f: f, path: p, Value: us}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(us))
	if _, err := f.Write(b[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("hold %s at %d us: write: %w", Device, us, err)
	}
	got, err := Read(r)
	if err != nil {
		f.Close()
		return nil, err
	}
	if got > us {
		f.Close()
		return nil, fmt.Errorf("hold %s at %d us: the kernel reports %d us: %w", Device, us, got, ErrNotHeld)
	}
	return h, nil
}

// Close removes the request.
func (h *Holder) Close() error {
	if h == nil || h.f == nil {
		return nil
	}
	err := h.f.Close()
	h.f = nil
	return err
}

// Read returns the CPU latency limit in force, in microseconds.
func Read(r *host.Root) (int32, error) {
	f, err := r.OpenFile(r.Dev("cpu_dma_latency"), os.O_RDONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", Device, err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads the kernel's answer: one 32-bit signed integer in native
// byte order.
func Parse(rd io.Reader) (int32, error) {
	var b [4]byte
	if _, err := io.ReadFull(rd, b[:]); err != nil {
		return 0, fmt.Errorf("read %s: want 4 bytes: %w", Device, err)
	}
	return int32(binary.NativeEndian.Uint32(b[:])), nil
}
