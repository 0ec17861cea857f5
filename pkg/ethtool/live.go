package ethtool

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	sethtool "github.com/safchain/ethtool"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Live is the adapter over the kernel: ethtool ioctls through
// safchain/ethtool, the transmit queue length through netlink. It works in
// the network namespace of the calling thread.
type Live struct {
	e *sethtool.Ethtool
	// fd is a second socket for the RSS indirection ioctls, which the
	// library implements with a fixed 256-entry buffer (see rxfh.go).
	fd int
	// IoctlSteering is flow steering and RSS control (rxnfc_live.go) on fd.
	IoctlSteering
}

func openLive() (*Live, error) {
	e, err := sethtool.NewEthtool()
	if err != nil {
		return nil, fmt.Errorf("open ethtool socket: %w", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("open ethtool socket: %w", err)
	}
	return &Live{e: e, fd: fd, IoctlSteering: IoctlSteering{Ioctl: sockIoctl(fd)}}, nil
}

// wrap names the operation and turns EOPNOTSUPP into ErrNotSupported.
func wrap(op, ifname string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%s of %s: %w", op, ifname, ErrNotSupported)
	}
	return fmt.Errorf("%s of %s: %w", op, ifname, err)
}

// Driver implements Interface.
func (l *Live) Driver(ifname string) (string, error) {
	d, err := l.e.DriverName(ifname)
	return d, wrap("get driver", ifname, err)
}

// Stats implements Interface.
func (l *Live) Stats(ifname string) (map[string]uint64, error) {
	m, err := l.e.Stats(ifname)
	return m, wrap("get statistics", ifname, err)
}

// PermAddr implements Interface.
func (l *Live) PermAddr(ifname string) (string, error) {
	a, err := l.e.PermAddr(ifname)
	return a, wrap("get permanent address", ifname, err)
}

// Rings implements Interface.
func (l *Live) Rings(ifname string) (Rings, error) {
	r, err := l.e.GetRing(ifname)
	if err != nil {
		return Rings{}, wrap("get ring parameters", ifname, err)
	}
	return Rings{RX: r.RxPending, TX: r.TxPending, RXMax: r.RxMaxPending, TXMax: r.TxMaxPending}, nil
}

// SetRings implements Interface.
func (l *Live) SetRings(ifname string, rx, tx uint32) error {
	r, err := l.e.GetRing(ifname)
	if err != nil {
		return wrap("get ring parameters", ifname, err)
	}
	r.RxPending, r.TxPending = rx, tx
	_, err = l.e.SetRing(ifname, r)
	return wrap(fmt.Sprintf("set ring parameters rx %d tx %d", rx, tx), ifname, err)
}

// Channels implements Interface.
func (l *Live) Channels(ifname string) (Channels, error) {
	c, err := l.e.GetChannels(ifname)
	if err != nil {
		return Channels{}, wrap("get channels", ifname, err)
	}
	return Channels{
		RX: c.RxCount, TX: c.TxCount, Other: c.OtherCount, Combined: c.CombinedCount,
		MaxRX: c.MaxRx, MaxTX: c.MaxTx, MaxOther: c.MaxOther, MaxCombined: c.MaxCombined,
	}, nil
}

// SetChannels implements Interface.
func (l *Live) SetChannels(ifname string, want Channels) error {
	c, err := l.e.GetChannels(ifname)
	if err != nil {
		return wrap("get channels", ifname, err)
	}
	c.RxCount, c.TxCount, c.OtherCount, c.CombinedCount = want.RX, want.TX, want.Other, want.Combined
	_, err = l.e.SetChannels(ifname, c)
	return wrap(fmt.Sprintf("set channels combined %d rx %d tx %d other %d", want.Combined, want.RX, want.TX, want.Other), ifname, err)
}

// Coalesce implements Interface: the values from the ETHTOOL_GCOALESCE
// ioctl, the supported parameters from ethtool netlink (coalesce_netlink.go).
func (l *Live) Coalesce(ifname string) (Coalesce, error) {
	c, err := l.e.GetCoalesce(ifname)
	if err != nil {
		return Coalesce{}, wrap("get coalescing", ifname, err)
	}
	supported, err := coalesceSupported(ifname)
	if err != nil {
		return Coalesce{}, wrap("get supported coalescing parameters (ethtool netlink)", ifname, err)
	}
	return Coalesce{
		AdaptiveRX: c.UseAdaptiveRxCoalesce != 0, AdaptiveTX: c.UseAdaptiveTxCoalesce != 0,
		RXUsecs: c.RxCoalesceUsecs, RXFrames: c.RxMaxCoalescedFrames,
		TXUsecs: c.TxCoalesceUsecs, TXFrames: c.TxMaxCoalescedFrames,
		Supported: supported,
	}, nil
}

// SetCoalesce implements Interface.
func (l *Live) SetCoalesce(ifname string, want Coalesce) error {
	c, err := l.e.GetCoalesce(ifname)
	if err != nil {
		return wrap("get coalescing", ifname, err)
	}
	c.UseAdaptiveRxCoalesce = b2u(want.AdaptiveRX)
	c.UseAdaptiveTxCoalesce = b2u(want.AdaptiveTX)
	c.RxCoalesceUsecs, c.RxMaxCoalescedFrames = want.RXUsecs, want.RXFrames
	c.TxCoalesceUsecs, c.TxMaxCoalescedFrames = want.TXUsecs, want.TXFrames
	_, err = l.e.SetCoalesce(ifname, c)
	return wrap("set coalescing", ifname, err)
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// Features implements Interface.
func (l *Live) Features(ifname string) (map[string]Feature, error) {
	fs, err := l.e.FeaturesWithState(ifname)
	if err != nil {
		return nil, wrap("get features", ifname, err)
	}
	out := make(map[string]Feature, len(fs))
	for name, s := range fs {
		out[name] = Feature{Active: s.Active, Fixed: !s.Available}
	}
	return out, nil
}

// SetFeatures implements Interface.
func (l *Live) SetFeatures(ifname string, want map[string]bool) error {
	return wrap(fmt.Sprintf("set features %v", want), ifname, l.e.Change(ifname, want))
}

// Indir implements Interface.
func (l *Live) Indir(ifname string) ([]uint32, error) {
	t, err := getIndir(l.fd, ifname)
	return t, wrap("get RSS indirection table", ifname, err)
}

// SetIndir implements Interface.
func (l *Live) SetIndir(ifname string, table []uint32) error {
	return wrap("set RSS indirection table", ifname, setIndir(l.fd, ifname, table))
}

// ResetIndir implements Interface: safchain/ethtool has no call for it,
// so it is the ETHTOOL_SRXFHINDIR ioctl with indir_size 0.
func (l *Live) ResetIndir(ifname string) error {
	buf := []uint32{ethtoolSRXFHINDIR, 0}
	return wrap("reset RSS indirection table to the driver default", ifname, ethtoolIoctl(l.fd, ifname, buf))
}

// TxQueueLen implements Interface.
func (l *Live) TxQueueLen(ifname string) (int, error) {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return 0, fmt.Errorf("get link %s: %w", ifname, err)
	}
	return link.Attrs().TxQLen, nil
}

// SetTxQueueLen implements Interface.
func (l *Live) SetTxQueueLen(ifname string, n int) error {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("get link %s: %w", ifname, err)
	}
	if err := netlink.LinkSetTxQLen(link, n); err != nil {
		return fmt.Errorf("set txqueuelen of %s to %d: %w", ifname, n, err)
	}
	return nil
}

// Close implements Interface.
func (l *Live) Close() error {
	l.e.Close()
	return unix.Close(l.fd)
}

// The RSS indirection ioctls. safchain/ethtool reads the table into a
// fixed 256-entry array after asking the kernel for its size, so a device
// with a larger table (i40e and ice use 512 and more) would have the kernel
// write past the end of it; and it can only write "equal N" or weighted
// tables, not restore an arbitrary one. These two calls size the buffer
// from the kernel's answer instead.

const (
	ethtoolGRXFHINDIR = 0x38
	ethtoolSRXFHINDIR = 0x39
	siocETHTOOL       = 0x8946
	// maxIndir bounds the table size the kernel may report.
	maxIndir = 1 << 16
)

// ifreq is struct ifreq with the ifr_data member of the union.
type ifreq struct {
	name [unix.IFNAMSIZ]byte
	data uintptr
	_    [16]byte
}

func ethtoolIoctl(fd int, ifname string, buf []uint32) error {
	err := ethtoolIoctlAt(fd, ifname, unsafe.Pointer(&buf[0]))
	runtime.KeepAlive(buf)
	return err
}

// ethtoolIoctlAt is SIOCETHTOOL on ifname with the command buffer at data;
// the caller keeps the buffer alive until it returns.
func ethtoolIoctlAt(fd int, ifname string, data unsafe.Pointer) error {
	var ifr ifreq
	if len(ifname) >= unix.IFNAMSIZ {
		return fmt.Errorf("interface name %q too long", ifname)
	}
	copy(ifr.name[:], ifname)
	ifr.data = uintptr(data)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), siocETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	if errno != 0 {
		return errno
	}
	return nil
}

// getIndir reads struct ethtool_rxfh_indir: {cmd, size, ring_index[size]}.
func getIndir(fd int, ifname string) ([]uint32, error) {
	head := make([]uint32, 2)
	head[0] = ethtoolGRXFHINDIR
	if err := ethtoolIoctl(fd, ifname, head); err != nil {
		return nil, err
	}
	size := int(head[1])
	if size == 0 {
		return nil, unix.EOPNOTSUPP
	}
	if size > maxIndir {
		return nil, fmt.Errorf("kernel reports an indirection table of %d entries", size)
	}
	buf := make([]uint32, 2+size)
	buf[0], buf[1] = ethtoolGRXFHINDIR, uint32(size)
	if err := ethtoolIoctl(fd, ifname, buf); err != nil {
		return nil, err
	}
	return append([]uint32(nil), buf[2:]...), nil
}

func setIndir(fd int, ifname string, table []uint32) error {
	cur, err := getIndir(fd, ifname)
	if err != nil {
		return err
	}
	if len(table) != len(cur) {
		return fmt.Errorf("table of %d entries for a device table of %d: %w", len(table), len(cur), unix.EINVAL)
	}
	buf := make([]uint32, 2+len(table))
	buf[0], buf[1] = ethtoolSRXFHINDIR, uint32(len(table))
	copy(buf[2:], table)
	return ethtoolIoctl(fd, ifname, buf)
}
