package ethtool

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// inFreshNetns runs f on a locked OS thread inside a new network namespace
// with a veth pair ntva/ntvb (4 queues each way). The namespace, and the
// veths with it, disappear when f returns.
func inFreshNetns(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The thread is never unlocked: it ends with the goroutine, so
		// no other goroutine ever runs in the test namespace.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			t.Errorf("get netns: %v", err)
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			t.Errorf("create netns: %v", err)
			return
		}
		defer func() {
			netns.Set(orig)
			ns.Close()
		}()
		veth := &netlink.Veth{
			LinkAttrs: netlink.LinkAttrs{Name: "ntva", NumTxQueues: 4, NumRxQueues: 4},
			PeerName:  "ntvb", PeerNumTxQueues: 4, PeerNumRxQueues: 4,
		}
		if err := netlink.LinkAdd(veth); err != nil {
			t.Errorf("create veth: %v", err)
			return
		}
		f()
	}()
	<-done
}

func TestPrivilegedLiveVeth(t *testing.T) {
	inFreshNetns(t, func() {
		l, err := openLive()
		if err != nil {
			t.Error(err)
			return
		}
		defer l.Close()
		if d, err := l.Driver("ntva"); err != nil || d != "veth" {
			t.Errorf("Driver = %q, %v", d, err)
		}
		if _, err := l.Rings("ntva"); !errors.Is(err, ErrNotSupported) {
			t.Errorf("veth rings: %v, want ErrNotSupported", err)
		}
		if _, err := l.Indir("ntva"); !errors.Is(err, ErrNotSupported) {
			t.Errorf("veth RSS table: %v, want ErrNotSupported", err)
		}

		c, err := l.Channels("ntva")
		if err != nil {
			t.Error(err)
			return
		}
		if c.MaxRX < 2 || c.MaxTX < 2 {
			t.Errorf("veth channels %+v: want a maximum of at least 2", c)
			return
		}
		want := c
		want.RX, want.TX = 2, 2
		if err := l.SetChannels("ntva", want); err != nil {
			t.Error(err)
			return
		}
		if got, _ := l.Channels("ntva"); got.RX != 2 || got.TX != 2 {
			t.Errorf("channels after set = %+v", got)
		}
		if err := l.SetChannels("ntva", c); err != nil {
			t.Error(err)
		}

		fs, err := l.Features("ntva")
		if err != nil {
			t.Error(err)
			return
		}
		gro, ok := fs["rx-gro"]
		if !ok || gro.Fixed {
			t.Errorf("rx-gro of veth = %+v, %v", gro, ok)
			return
		}
		if err := l.SetFeatures("ntva", map[string]bool{"rx-gro": !gro.Active}); err != nil {
			t.Error(err)
		}
		if fs2, _ := l.Features("ntva"); fs2["rx-gro"].Active == gro.Active {
			t.Errorf("rx-gro did not change from %v", gro.Active)
		}
		l.SetFeatures("ntva", map[string]bool{"rx-gro": gro.Active})
		if fixed := fs["tx-checksum-ipv4"]; !fixed.Fixed {
			t.Errorf("tx-checksum-ipv4 of veth should be fixed: %+v", fixed)
		}

		q, err := l.TxQueueLen("ntva")
		if err != nil {
			t.Error(err)
			return
		}
		if err := l.SetTxQueueLen("ntva", q+500); err != nil {
			t.Error(err)
		}
		if got, _ := l.TxQueueLen("ntva"); got != q+500 {
			t.Errorf("txqueuelen = %d, want %d", got, q+500)
		}

		s, err := Capture(l, "ntva")
		if err != nil {
			t.Error(err)
		}
		if s.Driver != "veth" || s.Channels == nil || s.Rings != nil || s.Features == nil {
			t.Errorf("captured state %+v", s)
		}
		back, err := DecodeState(s.Encode())
		if err != nil || back.Channels.MaxRX != s.Channels.MaxRX {
			t.Errorf("decode captured state: %v", err)
		}
	})
}
