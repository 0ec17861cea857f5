package ethtool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/nettune/nettune/pkg/host"
)

// State is what ethtool reports for one interface, as kept in
// <root>/var/lib/nettune-snapshot/ethtool/<ifname>.json. A section that is
// absent is an operation the device does not support.
type State struct {
	Driver   string             `json:"driver,omitempty"`
	PermAddr string             `json:"permAddr,omitempty"`
	Rings    *Rings             `json:"rings,omitempty"`
	Channels *Channels          `json:"channels,omitempty"`
	Coalesce *Coalesce          `json:"coalesce,omitempty"`
	Features map[string]Feature `json:"features,omitempty"`
	// Indir is the RSS indirection table, FormatIndir's spelling.
	Indir string `json:"rssIndir,omitempty"`
	// IndirUserSet is the kernel's IFF_RXFH_CONFIGURED: the table was
	// written by SetIndir, not left to the driver. Channel changes keep a
	// user-set table (and are refused when it uses queues that would go
	// away); a driver's table is re-spread over the new rx queues.
	IndirUserSet bool `json:"rssUserSet,omitempty"`
	// IndirDefault is the layout of the driver's own table: "" for the
	// kernel's ethtool_rxfh_indir_default (entry i on queue i mod n, most
	// drivers), "blocked" for drivers that fill it in runs (igb:
	// igb_setup_mrqc sets entry j to j*n/size).
	IndirDefault string `json:"rssDefault,omitempty"`
	// Stats are driver statistics (ethtool -S). Snapshots do not capture
	// them (they are counters, not state); fixtures may carry them.
	Stats map[string]uint64 `json:"stats,omitempty"`
	// Steering is the flow steering and RSS hash state (rxnfc_files.go).
	SteeringState
}

// Encode renders a state in its canonical form (indented JSON, keys in a
// fixed order, trailing newline), so that a file written back unchanged is
// byte-identical.
func (s *State) Encode() []byte {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		// Only maps with string keys and plain values: cannot fail.
		panic(err)
	}
	return append(b, '\n')
}

// DecodeState parses a state file strictly.
func DecodeState(data []byte) (*State, error) {
	s, _, err := decodeState(data)
	return s, err
}

// decodeState is DecodeState that also returns the parsed RSS table.
func decodeState(data []byte) (*State, []uint32, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	s := &State{}
	if err := dec.Decode(s); err != nil {
		return nil, nil, err
	}
	var table []uint32
	if s.Indir != "" {
		var err error
		if table, err = ParseIndir(s.Indir); err != nil {
			return nil, nil, err
		}
	}
	if err := s.SteeringState.check(); err != nil {
		return nil, nil, err
	}
	if c := s.Coalesce; c != nil && c.Supported != nil {
		if len(c.Supported) == 0 {
			// Encode leaves an empty list out, which reads back as
			// "unknown": refuse it rather than change its meaning.
			return nil, nil, errors.New(`coalesce.supported is empty: list the parameters the driver supports, or leave it out when unknown`)
		}
		ps, err := normParams(c.Supported)
		if err != nil {
			return nil, nil, fmt.Errorf("coalesce.supported: %w", err)
		}
		c.Supported = ps
	}
	return s, table, nil
}

// Capture reads everything Interface reports for one interface; operations
// the device does not support are left out.
func Capture(e Interface, ifname string) (*State, error) {
	s := &State{}
	var err error
	keep := func(e error) bool {
		if e == nil {
			return true
		}
		if !errors.Is(e, ErrNotSupported) && err == nil {
			err = e
		}
		return false
	}
	if d, e2 := e.Driver(ifname); keep(e2) {
		s.Driver = d
	}
	if a, e2 := e.PermAddr(ifname); keep(e2) {
		s.PermAddr = a
	}
	if r, e2 := e.Rings(ifname); keep(e2) {
		s.Rings = &r
	}
	if c, e2 := e.Channels(ifname); keep(e2) {
		s.Channels = &c
	}
	if c, e2 := e.Coalesce(ifname); keep(e2) {
		s.Coalesce = &c
	}
	if f, e2 := e.Features(ifname); keep(e2) && len(f) > 0 {
		s.Features = f
	}
	if t, e2 := e.Indir(ifname); keep(e2) {
		s.Indir = FormatIndir(t)
	}
	if st := OpenSteering(e); st != nil {
		captureSteering(st, ifname, s)
	}
	return s, err
}

// Files is the offline implementation: each interface's state is a JSON
// file under StateDir in the root, read on every call and replaced through
// the root's Writer on every change. It checks what the kernel would check
// (ring and channel maxima, fixed and unknown features, the table size),
// so offline applies fail where live ones would. The transmit queue length
// is the sysfs attribute of the root.
type Files struct {
	Root *host.Root
	// plan, when set (ForPlan), keeps each interface's view once read.
	plan *planViews
}

type planViews struct {
	mu    sync.Mutex
	views map[string]*decoded
}

// ForPlan returns f reading each interface's state file once: a plan is
// a reading of the host at one moment, and asks each NIC's file half a
// dozen questions (on a host with 16 NICs, 96 reads of 7 KB files become
// 16). A write through it (store) drops that interface's view; a change
// by another process is not seen by the plan view. Use f itself to apply
// and to read back.
func (f *Files) ForPlan() *Files {
	return &Files{Root: f.Root, plan: &planViews{views: map[string]*decoded{}}}
}

// Path is the state file of an interface under the root.
func (f *Files) Path(ifname string) string {
	return f.Root.Path(filepath.Join(StateDir, ifname+".json"))
}

// load reads an interface's state for a change: a private copy the
// caller may modify and store.
func (f *Files) load(ifname string) (*State, error) {
	p, data, err := f.read(ifname)
	if err != nil {
		return nil, err
	}
	s, err := DecodeState(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Root.HostPath(p), err)
	}
	return s, nil
}

// view reads an interface's state for a read-only look: the decoded state
// is shared between calls while the file's bytes are unchanged (one plan
// asks each NIC's file half a dozen questions), so callers must not modify
// it and getters hand out copies of its maps and slices. The file is read
// every time: a change by anyone, this process or another, is seen.
func (f *Files) view(ifname string) (*decoded, error) {
	if f.plan != nil {
		f.plan.mu.Lock()
		d := f.plan.views[ifname]
		f.plan.mu.Unlock()
		if d != nil {
			return d, nil
		}
	}
	p, data, err := f.read(ifname)
	if err != nil {
		return nil, err
	}
	d, err := decodeCached(p, data, func(err error) error {
		return fmt.Errorf("read %s: %w", f.Root.HostPath(p), err)
	})
	if err == nil && f.plan != nil {
		f.plan.mu.Lock()
		f.plan.views[ifname] = d
		f.plan.mu.Unlock()
	}
	return d, err
}

func (f *Files) read(ifname string) (string, []byte, error) {
	p := f.Path(ifname)
	data, err := os.ReadFile(p)
	if err != nil {
		if host.IsNotExist(err) {
			return p, nil, fmt.Errorf("%s: no ethtool state for %s under this root (%s is written by 'nettune snapshot'): %w", ifname, ifname, f.Root.HostPath(p), ErrNotSupported)
		}
		return p, nil, err
	}
	return p, data, nil
}

func (f *Files) store(ifname string, s *State) error {
	if f.plan != nil {
		f.plan.mu.Lock()
		delete(f.plan.views, ifname)
		f.plan.mu.Unlock()
	}
	return f.Root.W.WriteFile(f.Path(ifname), s.Encode(), 0o644)
}

func unsupported(what, ifname string) error {
	return fmt.Errorf("%s of %s: %w", what, ifname, ErrNotSupported)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, syscall.EINVAL)...)
}

// Stats implements Interface.
func (f *Files) Stats(ifname string) (map[string]uint64, error) {
	d, err := f.view(ifname)
	if err != nil {
		return nil, err
	}
	if d.s.Stats == nil {
		return nil, unsupported("get statistics", ifname)
	}
	return d.stats(), nil
}

// Driver implements Interface.
func (f *Files) Driver(ifname string) (string, error) {
	d, err := f.view(ifname)
	if err != nil {
		return "", err
	}
	if d.s.Driver == "" {
		return "", unsupported("get driver", ifname)
	}
	return d.s.Driver, nil
}

// PermAddr implements Interface.
func (f *Files) PermAddr(ifname string) (string, error) {
	d, err := f.view(ifname)
	if err != nil {
		return "", err
	}
	return d.s.PermAddr, nil
}

// Rings implements Interface.
func (f *Files) Rings(ifname string) (Rings, error) {
	d, err := f.view(ifname)
	if err != nil {
		return Rings{}, err
	}
	if d.s.Rings == nil {
		return Rings{}, unsupported("get ring parameters", ifname)
	}
	return *d.s.Rings, nil
}

// SetRings implements Interface.
func (f *Files) SetRings(ifname string, rx, tx uint32) error {
	s, err := f.load(ifname)
	if err != nil {
		return err
	}
	if s.Rings == nil {
		return unsupported("set ring parameters", ifname)
	}
	if rx > s.Rings.RXMax || tx > s.Rings.TXMax || rx == 0 || tx == 0 {
		return invalid("set ring parameters rx %d tx %d of %s (maximum rx %d tx %d)", rx, tx, ifname, s.Rings.RXMax, s.Rings.TXMax)
	}
	s.Rings.RX, s.Rings.TX = rx, tx
	return f.store(ifname, s)
}

// Channels implements Interface.
func (f *Files) Channels(ifname string) (Channels, error) {
	d, err := f.view(ifname)
	if err != nil {
		return Channels{}, err
	}
	if d.s.Channels == nil {
		return Channels{}, unsupported("get channels", ifname)
	}
	return *d.s.Channels, nil
}

// SetChannels implements Interface.
func (f *Files) SetChannels(ifname string, c Channels) error {
	s, err := f.load(ifname)
	if err != nil {
		return err
	}
	m := s.Channels
	if m == nil {
		return unsupported("set channels", ifname)
	}
	if c.RX > m.MaxRX || c.TX > m.MaxTX || c.Other > m.MaxOther || c.Combined > m.MaxCombined || c.RXQueues() == 0 || c.TXQueues() == 0 {
		return invalid("set channels combined %d rx %d tx %d other %d of %s", c.Combined, c.RX, c.TX, c.Other, ifname)
	}
	if s.Indir != "" {
		t, err := ParseIndir(s.Indir)
		if err != nil {
			return err
		}
		switch {
		case s.IndirUserSet && MaxQueue(t) >= int(c.RXQueues()):
			// ethtool_set_channels: the user-set table still points at
			// queues that would go away.
			return invalid("set channels combined %d rx %d tx %d other %d of %s: the RSS table was set by the user and uses queue %d", c.Combined, c.RX, c.TX, c.Other, ifname, MaxQueue(t))
		case !s.IndirUserSet && c.RXQueues() != m.RXQueues():
			s.Indir = FormatIndir(s.defaultIndir(len(t), int(c.RXQueues())))
		}
	}
	m.RX, m.TX, m.Other, m.Combined = c.RX, c.TX, c.Other, c.Combined
	return f.store(ifname, s)
}

// Coalesce implements Interface.
func (f *Files) Coalesce(ifname string) (Coalesce, error) {
	d, err := f.view(ifname)
	if err != nil {
		return Coalesce{}, err
	}
	if d.s.Coalesce == nil {
		return Coalesce{}, unsupported("get coalescing", ifname)
	}
	return d.coalesce(), nil
}

// SetCoalesce implements Interface.
func (f *Files) SetCoalesce(ifname string, c Coalesce) error {
	s, err := f.load(ifname)
	if err != nil {
		return err
	}
	if s.Coalesce == nil {
		return unsupported("set coalescing", ifname)
	}
	// ethtool_set_coalesce_supported: a nonzero value of a parameter the
	// driver does not support is refused with EOPNOTSUPP, before anything
	// is set. The supported set is the driver's, not the caller's.
	c.Supported = s.Coalesce.Supported
	for _, p := range []struct {
		name string
		v    uint32
	}{
		{"adaptive-rx", b2u(c.AdaptiveRX)}, {"adaptive-tx", b2u(c.AdaptiveTX)},
		{"rx-usecs", c.RXUsecs}, {"rx-frames", c.RXFrames}, {"tx-usecs", c.TXUsecs}, {"tx-frames", c.TXFrames},
	} {
		if p.v != 0 && !c.Supports(p.name) {
			return fmt.Errorf("set coalescing %s %d of %s (the driver supports %s): %w", p.name, p.v, ifname, strings.Join(c.Supported, ", "), ErrNotSupported)
		}
	}
	*s.Coalesce = c
	return f.store(ifname, s)
}

// Features implements Interface.
func (f *Files) Features(ifname string) (map[string]Feature, error) {
	d, err := f.view(ifname)
	if err != nil {
		return nil, err
	}
	if d.s.Features == nil {
		return nil, unsupported("get features", ifname)
	}
	return d.features(), nil
}

// SetFeatures implements Interface.
func (f *Files) SetFeatures(ifname string, want map[string]bool) error {
	s, err := f.load(ifname)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cur, ok := s.Features[n]
		if !ok {
			return fmt.Errorf("set features of %s: unsupported feature %q", ifname, n)
		}
		if cur.Fixed && cur.Active != want[n] {
			return invalid("set feature %s of %s: fixed", n, ifname)
		}
		cur.Active = want[n]
		s.Features[n] = cur
	}
	return f.store(ifname, s)
}

// Indir implements Interface.
func (f *Files) Indir(ifname string) ([]uint32, error) {
	d, err := f.view(ifname)
	if err != nil {
		return nil, err
	}
	if d.s.Indir == "" {
		return nil, unsupported("get RSS indirection table", ifname)
	}
	return d.table(), nil
}

// SetIndir implements Interface.
func (f *Files) SetIndir(ifname string, table []uint32) error {
	s, err := f.load(ifname)
	if err != nil {
		return err
	}
	if s.Indir == "" {
		return unsupported("set RSS indirection table", ifname)
	}
	cur, err := ParseIndir(s.Indir)
	if err != nil {
		return err
	}
	if len(cur) != len(table) {
		return invalid("set RSS indirection table of %s: %d entries for a table of %d", ifname, len(table), len(cur))
	}
	if s.Channels != nil {
		if q := MaxQueue(table); q >= int(s.Channels.RXQueues()) {
			return invalid("set RSS indirection table of %s: queue %d does not exist (%d rx queues)", ifname, q, s.Channels.RXQueues())
		}
	}
	s.Indir = FormatIndir(table)
	s.IndirUserSet = true
	return f.store(ifname, s)
}

// defaultIndir is the table the driver builds for n rx queues.
func (s *State) defaultIndir(size, n int) []uint32 {
	if s.IndirDefault == "blocked" {
		return BlockIndir(size, n)
	}
	return EvenIndir(size, n)
}

// ResetIndir implements Interface: the driver's default table (see
// State.IndirDefault), no longer user-set.
func (f *Files) ResetIndir(ifname string) error {
	s, err := f.load(ifname)
	if err != nil {
		return err
	}
	if s.Indir == "" || s.Channels == nil {
		return unsupported("reset RSS indirection table", ifname)
	}
	cur, err := ParseIndir(s.Indir)
	if err != nil {
		return err
	}
	s.Indir = FormatIndir(s.defaultIndir(len(cur), int(s.Channels.RXQueues())))
	s.IndirUserSet = false
	return f.store(ifname, s)
}

// TxQueueLen implements Interface.
func (f *Files) TxQueueLen(ifname string) (int, error) {
	p := f.Root.Path(TxQueueLenPath(ifname))
	v, err := f.Root.ReadString(p)
	if err != nil {
		return 0, fmt.Errorf("get txqueuelen of %s: %w", ifname, err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("get txqueuelen of %s: %s reads %q", ifname, TxQueueLenPath(ifname), v)
	}
	return n, nil
}

// SetTxQueueLen implements Interface.
func (f *Files) SetTxQueueLen(ifname string, n int) error {
	return f.Root.W.WriteKernel(f.Root.Path(TxQueueLenPath(ifname)), strconv.Itoa(n))
}

// Close implements Interface.
func (*Files) Close() error { return nil }
