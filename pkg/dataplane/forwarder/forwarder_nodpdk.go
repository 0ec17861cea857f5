//go:build !cgo || nodpdk

package forwarder

import (
	"context"
	"fmt"
	"github.com/nettune/nettune/pkg/dataplane"
)

// Available reports whether this build contains the DPDK forwarder.
const Available = false

// Forwarder is a running forwarder; this build has none.
type Forwarder struct{}

// Start fails: this build has no DPDK forwarder.
func Start(ctx context.Context, cfg dataplane.Config) (*Forwarder, error) {
	return nil, fmt.Errorf("start forwarder: %w; install DPDK's development files (Debian: apt-get install libdpdk-dev pkg-config) and build with CGO_ENABLED=1 and without the nodpdk tag", dataplane.ErrNoDPDK)
}

// Warnings returns nothing.
func (f *Forwarder) Warnings() []string { return nil }

// EALArgs returns nothing.
func (f *Forwarder) EALArgs() []string { return nil }

// Stats returns nothing.
func (f *Forwarder) Stats() dataplane.Stats { return dataplane.Stats{} }

// Stop returns ErrNoDPDK.
func (f *Forwarder) Stop() (dataplane.Stats, error) { return dataplane.Stats{}, dataplane.ErrNoDPDK }
