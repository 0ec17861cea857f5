package ethtool

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The ethtool commands of the steering ioctls (include/uapi/linux/ethtool.h).
const (
	cmdGRXFH       = 0x29
	cmdSRXFH       = 0x2a
	cmdGRXRINGS    = 0x2d
	cmdGRXCLSRLCNT = 0x2e
	cmdGRXCLSRULE  = 0x2f
	cmdGRXCLSRLALL = 0x30
	cmdSRXCLSRLDEL = 0x31
	cmdSRXCLSRLINS = 0x32
	cmdGRSSH       = 0x46
	cmdSRSSH       = 0x47
)

// Layout of struct ethtool_rxnfc: cmd, flow_type, data (u64), fs (struct
// ethtool_rx_flow_spec), rule_cnt, rule_locs[]. sizeof is 192 (8-aligned);
// rule_locs starts at offsetof(rule_locs), 188, where the kernel writes
// the locations of ETHTOOL_GRXCLSRLALL.
const (
	nfcCmd      = 0
	nfcFlowType = 4
	nfcData     = 8
	nfcFS       = 16
	nfcRuleCnt  = nfcFS + fsSize // 184
	nfcRuleLocs = nfcRuleCnt + 4 // 188
	nfcSize     = 192
)

// Layout of struct ethtool_rxfh: cmd, rss_context, indir_size, key_size,
// hfunc (u8), input_xfrm (u8), rsvd8[2], rsvd32, rss_config[] at 24.
const (
	rxfhCmd       = 0
	rxfhContext   = 4
	rxfhIndirSize = 8
	rxfhKeySize   = 12
	rxfhHfunc     = 16
	rxfhConfig    = 24
	// indirNoChange is ETH_RXFH_INDIR_NO_CHANGE: SRSSH leaves the table.
	indirNoChange = 0xffffffff
	// maxRuleCnt bounds the rule count the kernel may report.
	maxRuleCnt = 1 << 16
)

// Ioctl issues SIOCETHTOOL on an interface with buf as ifr_data; the
// kernel reads and writes buf in place.
type Ioctl func(ifname string, buf []byte) error

// sockIoctl is the real SIOCETHTOOL on a socket.
func sockIoctl(fd int) Ioctl {
	return func(ifname string, buf []byte) error {
		err := ethtoolIoctlAt(fd, ifname, unsafe.Pointer(&buf[0]))
		runtime.KeepAlive(buf)
		return err
	}
}

// IoctlSteering implements Steering over SIOCETHTOOL.
type IoctlSteering struct {
	Ioctl Ioctl
}

func steerErr(op, ifname string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%s of %s: %w (%w)", op, ifname, ErrNotSupported, err)
	}
	return fmt.Errorf("%s of %s: %w", op, ifname, err)
}

func nfc(cmd uint32) []byte {
	b := make([]byte, nfcSize)
	ne.PutUint32(b[nfcCmd:], cmd)
	return b
}

// FlowHash implements Steering.
func (s IoctlSteering) FlowHash(ifname, flowType string) (string, error) {
	id, ok := FlowTypeID(flowType)
	if !ok {
		return "", fmt.Errorf("flow type %q", flowType)
	}
	b := nfc(cmdGRXFH)
	ne.PutUint32(b[nfcFlowType:], id)
	if err := s.Ioctl(ifname, b); err != nil {
		return "", steerErr("get rx-flow-hash "+flowType, ifname, err)
	}
	return FormatHashFields(ne.Uint64(b[nfcData:])), nil
}

// SetFlowHash implements Steering.
func (s IoctlSteering) SetFlowHash(ifname, flowType, fields string) error {
	id, ok := FlowTypeID(flowType)
	if !ok {
		return fmt.Errorf("flow type %q", flowType)
	}
	v, err := ParseHashFields(fields)
	if err != nil {
		return err
	}
	b := nfc(cmdSRXFH)
	ne.PutUint32(b[nfcFlowType:], id)
	ne.PutUint64(b[nfcData:], v)
	return steerErr("set rx-flow-hash "+flowType+" "+fields, ifname, s.Ioctl(ifname, b))
}

// RSSHash implements Steering: ETHTOOL_GRSSH once with zero sizes to
// learn them, then with a buffer of that size.
func (s IoctlSteering) RSSHash(ifname string) (RSSHash, error) {
	head := make([]byte, rxfhConfig)
	ne.PutUint32(head[rxfhCmd:], cmdGRSSH)
	if err := s.Ioctl(ifname, head); err != nil {
		return RSSHash{}, steerErr("get RSS hash", ifname, err)
	}
	indir, key := ne.Uint32(head[rxfhIndirSize:]), ne.Uint32(head[rxfhKeySize:])
	if indir > maxIndir || key > 1024 {
		return RSSHash{}, fmt.Errorf("get RSS hash of %s: kernel reports a table of %d and a key of %d bytes", ifname, indir, key)
	}
	b := make([]byte, rxfhConfig+4*int(indir)+int(key))
	ne.PutUint32(b[rxfhCmd:], cmdGRSSH)
	ne.PutUint32(b[rxfhIndirSize:], indir)
	ne.PutUint32(b[rxfhKeySize:], key)
	if err := s.Ioctl(ifname, b); err != nil {
		return RSSHash{}, steerErr("get RSS hash", ifname, err)
	}
	h := RSSHash{Func: hfuncName(b[rxfhHfunc]), KeySize: int(key), IndirSize: int(indir)}
	if key > 0 {
		h.Key = append([]byte(nil), b[rxfhConfig+4*int(indir):]...)
	}
	return h, nil
}

// SetRSSHash implements Steering: ETHTOOL_SRSSH with the table left as it
// is (ETH_RXFH_INDIR_NO_CHANGE).
func (s IoctlSteering) SetRSSHash(ifname, hfunc string, key []byte) error {
	var bit uint8
	if hfunc != "" {
		var ok bool
		if bit, ok = hfuncBit(hfunc); !ok {
			return fmt.Errorf("hash function %q is not one of %v", hfunc, HashFuncs)
		}
	}
	b := make([]byte, rxfhConfig+len(key))
	ne.PutUint32(b[rxfhCmd:], cmdSRSSH)
	ne.PutUint32(b[rxfhIndirSize:], indirNoChange)
	ne.PutUint32(b[rxfhKeySize:], uint32(len(key)))
	b[rxfhHfunc] = bit
	copy(b[rxfhConfig:], key)
	op := "set RSS hash"
	if hfunc != "" {
		op += " function " + hfunc
	}
	if key != nil {
		op += " key"
	}
	return steerErr(op, ifname, s.Ioctl(ifname, b))
}

// Rules implements Steering: the count and table size
// (ETHTOOL_GRXCLSRLCNT), the locations (ETHTOOL_GRXCLSRLALL), then each
// rule (ETHTOOL_GRXCLSRULE).
func (s IoctlSteering) Rules(ifname string) (RuleTable, error) {
	b := nfc(cmdGRXCLSRLCNT)
	if err := s.Ioctl(ifname, b); err != nil {
		return RuleTable{}, steerErr("get ntuple rule count", ifname, err)
	}
	data := ne.Uint64(b[nfcData:])
	t := RuleTable{Size: uint32(data) &^ LocSpecial, Special: data&LocSpecial != 0}
	n := ne.Uint32(b[nfcRuleCnt:])
	if n == 0 {
		return t, nil
	}
	if n > maxRuleCnt {
		return t, fmt.Errorf("get ntuple rules of %s: kernel reports %d rules", ifname, n)
	}
	all := make([]byte, nfcRuleLocs+4*int(n))
	copy(all, nfc(cmdGRXCLSRLALL))
	ne.PutUint32(all[nfcRuleCnt:], n)
	if err := s.Ioctl(ifname, all); err != nil {
		return t, steerErr("get ntuple rule locations", ifname, err)
	}
	n = min(n, ne.Uint32(all[nfcRuleCnt:]))
	for i := range int(n) {
		loc := ne.Uint32(all[nfcRuleLocs+4*i:])
		rb := nfc(cmdGRXCLSRULE)
		ne.PutUint32(rb[nfcFS+fsLocation:], loc)
		if err := s.Ioctl(ifname, rb); err != nil {
			return t, steerErr(fmt.Sprintf("get ntuple rule %d", loc), ifname, err)
		}
		r, err := DecodeFlowSpec(rb[nfcFS : nfcFS+fsSize])
		if err != nil {
			if t.Foreign == nil {
				t.Foreign = map[uint32]string{}
			}
			t.Foreign[loc] = err.Error()
			continue
		}
		t.Rules = append(t.Rules, r)
	}
	return t, nil
}

// InsertRule implements Steering (ETHTOOL_SRXCLSRLINS; the kernel writes
// the location it chose back into fs.location).
func (s IoctlSteering) InsertRule(ifname string, r Rule) (uint32, error) {
	b := nfc(cmdSRXCLSRLINS)
	if err := EncodeFlowSpec(r, b[nfcFS:nfcFS+fsSize]); err != nil {
		return 0, err
	}
	if err := s.Ioctl(ifname, b); err != nil {
		return 0, steerErr("insert ntuple rule "+r.String(), ifname, err)
	}
	return ne.Uint32(b[nfcFS+fsLocation:]), nil
}

// DeleteRule implements Steering (ETHTOOL_SRXCLSRLDEL).
func (s IoctlSteering) DeleteRule(ifname string, loc uint32) error {
	b := nfc(cmdSRXCLSRLDEL)
	ne.PutUint32(b[nfcFS+fsLocation:], loc)
	return steerErr(fmt.Sprintf("delete ntuple rule %d", loc), ifname, s.Ioctl(ifname, b))
}
