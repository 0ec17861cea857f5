package ethtool

import (
	"encoding/binary"
	"errors"
	"slices"
	"syscall"
	"testing"
)

// fakeKernel answers SIOCETHTOOL for the steering commands the way
// net/ethtool/ioctl.c and the drivers behind it do, reading and writing
// the caller's buffer at the offsets of include/uapi/linux/ethtool.h
// written out here by hand (not the package's constants), so that a
// layout mistake in the package shows up as a wrong answer:
//
//	struct ethtool_rxnfc: cmd 0, flow_type 4, data 8, fs 16 (168 bytes:
//	fs.ring_cookie at 16+152, fs.location at 16+160), rule_cnt 184,
//	rule_locs 188.
//	struct ethtool_rxfh: cmd 0, rss_context 4, indir_size 8, key_size 12,
//	hfunc 16, input_xfrm 17, rsvd8 18, rsvd32 20, rss_config 24.
type fakeKernel struct {
	getRxnfc, setRxnfc bool
	size               uint32
	special            bool
	rules              map[uint32][]byte
	rings              uint64
	fields             map[uint32]uint64
	allowed            map[uint32][]uint64
	indir              []uint32
	key                []byte
	hfunc, funcs       uint8
}

var hn = binary.NativeEndian

func (k *fakeKernel) ioctl(_ string, b []byte) error {
	if len(b) < 24 {
		return syscall.EFAULT
	}
	switch hn.Uint32(b) {
	case 0x2e, 0x30, 0x2f, 0x29: // GRXCLSRLCNT, GRXCLSRLALL, GRXCLSRULE, GRXFH
		if !k.getRxnfc {
			return syscall.EOPNOTSUPP
		}
	case 0x32, 0x31, 0x2a: // SRXCLSRLINS, SRXCLSRLDEL, SRXFH
		if !k.setRxnfc {
			return syscall.EOPNOTSUPP
		}
	}
	if len(b) < 192 && hn.Uint32(b) < 0x40 {
		return syscall.EFAULT // copy_from_user of sizeof(struct ethtool_rxnfc)
	}
	switch hn.Uint32(b) {
	case 0x2e:
		data := uint64(k.size)
		if k.special {
			data |= 0x80000000
		}
		hn.PutUint64(b[8:], data)
		hn.PutUint32(b[184:], uint32(len(k.rules)))
	case 0x30:
		max := hn.Uint32(b[184:])
		if len(b) < 188+4*int(max) {
			return syscall.EFAULT
		}
		locs := make([]uint32, 0, len(k.rules))
		for l := range k.rules {
			locs = append(locs, l)
		}
		slices.Sort(locs)
		if uint32(len(locs)) > max {
			return syscall.EMSGSIZE
		}
		for i, l := range locs {
			hn.PutUint32(b[188+4*i:], l)
		}
		hn.PutUint32(b[184:], uint32(len(locs)))
		hn.PutUint64(b[8:], uint64(k.size))
	case 0x2f:
		r, ok := k.rules[hn.Uint32(b[176:])]
		if !ok {
			return syscall.ENOENT
		}
		copy(b[16:184], r)
	case 0x32:
		loc := hn.Uint32(b[176:])
		if cookie := hn.Uint64(b[168:]); cookie != ^uint64(0) && cookie >= k.rings {
			return syscall.EINVAL
		}
		switch {
		case loc >= 0x80000000:
			if !k.special || loc != 0xffffffff {
				return syscall.EINVAL
			}
			for loc = 0; loc < k.size; loc++ {
				if _, used := k.rules[loc]; !used {
					break
				}
			}
			if loc == k.size {
				return syscall.ENOSPC
			}
			hn.PutUint32(b[176:], loc) // copied back to the caller
		case loc >= k.size:
			return syscall.EINVAL
		}
		k.rules[loc] = slices.Clone(b[16:184])
	case 0x31:
		loc := hn.Uint32(b[176:])
		if _, ok := k.rules[loc]; !ok {
			return syscall.ENOENT
		}
		delete(k.rules, loc)
	case 0x29:
		v, ok := k.fields[hn.Uint32(b[4:])]
		if !ok {
			return syscall.EINVAL
		}
		hn.PutUint64(b[8:], v)
	case 0x2a:
		ft, v := hn.Uint32(b[4:]), hn.Uint64(b[8:])
		if _, ok := k.fields[ft]; !ok || !slices.Contains(k.allowed[ft], v) {
			return syscall.EINVAL
		}
		k.fields[ft] = v
	case 0x46: // GRSSH
		if k.indir == nil {
			return syscall.EOPNOTSUPP
		}
		if b[18] != 0 || b[19] != 0 || hn.Uint32(b[20:]) != 0 {
			return syscall.EINVAL
		}
		ui, uk := hn.Uint32(b[8:]), hn.Uint32(b[12:])
		hn.PutUint32(b[8:], uint32(len(k.indir)))
		hn.PutUint32(b[12:], uint32(len(k.key)))
		if (ui != 0 && ui != uint32(len(k.indir))) || (uk != 0 && uk != uint32(len(k.key))) {
			return syscall.EINVAL
		}
		b[16] = k.hfunc
		if len(b) < 24+4*int(ui)+int(uk) {
			return syscall.EFAULT
		}
		if ui != 0 {
			for i, q := range k.indir {
				hn.PutUint32(b[24+4*i:], q)
			}
		}
		if uk != 0 {
			copy(b[24+4*int(ui):], k.key)
		}
	case 0x47: // SRSSH
		if k.indir == nil {
			return syscall.EOPNOTSUPP
		}
		is, ks, hf := hn.Uint32(b[8:]), hn.Uint32(b[12:]), b[16]
		if (is != 0 && is != 0xffffffff && is != uint32(len(k.indir))) || (ks != 0 && ks != uint32(len(k.key))) ||
			(is == 0xffffffff && ks == 0 && hf == 0) {
			return syscall.EINVAL
		}
		if hf != 0 && hf&k.funcs == 0 {
			return syscall.EOPNOTSUPP
		}
		off := 24
		if is != 0 && is != 0xffffffff {
			for i := range k.indir {
				k.indir[i] = hn.Uint32(b[off+4*i:])
			}
			off += 4 * int(is)
		}
		if ks != 0 {
			copy(k.key, b[off:off+int(ks)])
		}
		if hf != 0 {
			k.hfunc = hf
		}
	default:
		return syscall.EOPNOTSUPP
	}
	return nil
}

func ixgbeKernel() *fakeKernel {
	return &fakeKernel{
		getRxnfc: true, setRxnfc: true, size: 8, rules: map[uint32][]byte{}, rings: 4,
		fields:  map[uint32]uint64{1: 0xf0, 2: 0x30, 5: 0xf0, 6: 0x30},
		allowed: map[uint32][]uint64{1: {0xf0}, 5: {0xf0}, 2: {0x30, 0xf0}, 6: {0x30, 0xf0}},
		indir:   EvenIndir(128, 4), key: make([]byte, 40), hfunc: 1, funcs: 1,
	}
}

func mustRule(t *testing.T, s string) Rule {
	t.Helper()
	r, err := ParseRule(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIoctlRules(t *testing.T) {
	k := ixgbeKernel()
	s := IoctlSteering{Ioctl: k.ioctl}
	in := []string{
		"flow-type udp4 dst-ip 10.0.0.0/24 dst-port 4789 vlan 100 action 3 loc 5",
		"flow-type tcp6 src-ip 2001:db8::/32 src-port 443 action 1 loc 0",
		"flow-type ether src 02:00:00:00:00:01 dst 02:00:00:00:00:02 action -1 loc 7",
	}
	for _, x := range in {
		loc, err := s.InsertRule("eth0", mustRule(t, x))
		if err != nil || loc != mustRule(t, x).Location {
			t.Fatalf("insert %s: loc %d, %v", x, loc, err)
		}
	}
	tbl, err := s.Rules("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Size != 8 || tbl.Special || len(tbl.Rules) != 3 {
		t.Fatalf("table %+v", tbl)
	}
	for _, x := range in {
		r := mustRule(t, x)
		got, ok := tbl.At(r.Location)
		if !ok || got.String() != r.String() {
			t.Errorf("rule at %d reads back %q, want %q", r.Location, got, r)
		}
	}
	for _, tc := range []struct {
		rule string
		want error
	}{
		{"flow-type udp4 dst-port 53 action 4 loc 1", syscall.EINVAL}, // no queue 4
		{"flow-type udp4 dst-port 53 action 1 loc 8", syscall.EINVAL}, // beyond the table
		{"flow-type udp4 dst-port 53 action 1 loc any", syscall.EINVAL},
	} {
		if _, err := s.InsertRule("eth0", mustRule(t, tc.rule)); !errors.Is(err, tc.want) {
			t.Errorf("insert %s: %v, want %v", tc.rule, err, tc.want)
		}
	}
	if err := s.DeleteRule("eth0", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRule("eth0", 5); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("second delete: %v, want ENOENT", err)
	}
	// A rule nettune does not write (a partial port mask) is reported by
	// location, not dropped or misread.
	raw := make([]byte, 168)
	hn.PutUint32(raw[0:], 2)
	binary.BigEndian.PutUint16(raw[4+10:], 53)
	binary.BigEndian.PutUint16(raw[76+10:], 0xff00)
	hn.PutUint32(raw[160:], 3)
	k.rules[3] = raw
	tbl, err = s.Rules("eth0")
	if err != nil || tbl.Foreign[3] == "" || len(tbl.Rules) != 2 {
		t.Errorf("a foreign rule: %+v %v", tbl, err)
	}
}

func TestIoctlSpecialLocations(t *testing.T) {
	k := ixgbeKernel()
	k.special = true
	s := IoctlSteering{Ioctl: k.ioctl}
	for want := range uint32(2) {
		loc, err := s.InsertRule("eth0", mustRule(t, "flow-type udp4 dst-port "+string(rune('1'+want))+" action 1 loc any"))
		if err != nil || loc != want {
			t.Errorf("insert at any: %d %v, want %d", loc, err, want)
		}
	}
	if tbl, _ := s.Rules("eth0"); !tbl.Special || len(tbl.Rules) != 2 {
		t.Errorf("table %+v", tbl)
	}
}

func TestIoctlNotSupported(t *testing.T) {
	k := ixgbeKernel()
	k.getRxnfc, k.setRxnfc, k.indir = false, false, nil
	s := IoctlSteering{Ioctl: k.ioctl}
	if _, err := s.Rules("eth0"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("rules: %v", err)
	}
	if _, err := s.InsertRule("eth0", mustRule(t, "flow-type udp4 dst-port 53 action 1 loc 1")); !errors.Is(err, ErrNotSupported) {
		t.Errorf("insert: %v", err)
	}
	if _, err := s.FlowHash("eth0", "udp4"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("flow hash: %v", err)
	}
	if _, err := s.RSSHash("eth0"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("rss hash: %v", err)
	}
}

func TestIoctlFlowHash(t *testing.T) {
	k := ixgbeKernel()
	s := IoctlSteering{Ioctl: k.ioctl}
	if v, err := s.FlowHash("eth0", "udp4"); err != nil || v != "sd" {
		t.Fatalf("udp4: %q %v", v, err)
	}
	if err := s.SetFlowHash("eth0", "udp4", "sdfn"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.FlowHash("eth0", "udp4"); v != "sdfn" || k.fields[2] != 0xf0 {
		t.Errorf("udp4 after set: %q (%#x)", v, k.fields[2])
	}
	if err := s.SetFlowHash("eth0", "tcp4", "sd"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("tcp4 sd on ixgbe: %v, want EINVAL", err)
	}
}

func TestIoctlRSSHash(t *testing.T) {
	k := ixgbeKernel()
	s := IoctlSteering{Ioctl: k.ioctl}
	h, err := s.RSSHash("eth0")
	if err != nil || h.Func != "toeplitz" || h.KeySize != 40 || h.IndirSize != 128 || len(h.Key) != 40 {
		t.Fatalf("%+v %v", h, err)
	}
	key := make([]byte, 40)
	for i := range key {
		key[i] = byte(i)
	}
	if err := s.SetRSSHash("eth0", "", key); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.RSSHash("eth0"); FormatKey(h.Key) != FormatKey(key) {
		t.Errorf("key reads back %s", FormatKey(h.Key))
	}
	if EvenQueues(k.indir) != 4 {
		t.Errorf("the key change touched the table: %v", k.indir)
	}
	if err := s.SetRSSHash("eth0", "", key[:16]); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("short key: %v, want EINVAL", err)
	}
	if err := s.SetRSSHash("eth0", "xor", nil); !errors.Is(err, ErrNotSupported) {
		t.Errorf("xor on a toeplitz-only driver: %v, want not supported", err)
	}
	k.funcs = 3
	if err := s.SetRSSHash("eth0", "xor", nil); err != nil || k.hfunc != 2 {
		t.Errorf("xor: %v (hfunc %d)", err, k.hfunc)
	}
}

// TestFlowSpecLayout pins the bytes of one rule at the offsets of the
// uapi header.
func TestFlowSpecLayout(t *testing.T) {
	b := make([]byte, 168)
	if err := EncodeFlowSpec(mustRule(t, "flow-type udp4 src-ip 192.168.1.0/24 dst-ip 10.0.0.1 dst-port 4789 vlan 100 action 3 loc 5"), b); err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	for _, c := range []struct {
		what      string
		got, want uint64
	}{
		{"flow_type", uint64(hn.Uint32(b[0:])), 0x80000002},
		{"h_u.ip4src", uint64(be.Uint32(b[4:])), 0xc0a80100},
		{"m_u.ip4src", uint64(be.Uint32(b[76:])), 0xffffff00},
		{"h_u.ip4dst", uint64(be.Uint32(b[8:])), 0x0a000001},
		{"m_u.ip4dst", uint64(be.Uint32(b[80:])), 0xffffffff},
		{"h_u.psrc", uint64(be.Uint16(b[12:])), 0},
		{"m_u.psrc", uint64(be.Uint16(b[84:])), 0},
		{"h_u.pdst", uint64(be.Uint16(b[14:])), 4789},
		{"m_u.pdst", uint64(be.Uint16(b[86:])), 0xffff},
		{"h_ext.vlan_tci", uint64(be.Uint16(b[66:])), 100},
		{"m_ext.vlan_tci", uint64(be.Uint16(b[138:])), 0x0fff},
		{"ring_cookie", hn.Uint64(b[152:]), 3},
		{"location", uint64(hn.Uint32(b[160:])), 5},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.what, c.got, c.want)
		}
	}
}
