package dataplane

import (
	"math"
	"testing"
	"time"
)

func TestStatsSums(t *testing.T) {
	s := Stats{
		Elapsed: 2 * time.Second,
		Ports:   []PortStats{{Name: "a"}, {Name: "b"}},
		Workers: []WorkerStats{
			{Lcore: 1, Streams: []StreamStats{{RxPort: 0, TxPort: 1, Rx: 100, Tx: 90, Dropped: 10, Generated: 32}, {RxPort: 1, TxPort: 0, Rx: 50, Tx: 50}}},
			{Lcore: 2, Streams: []StreamStats{{RxPort: 0, TxPort: 1, Rx: 1e6, Tx: 1e6}}},
		},
	}
	s.SumPorts()
	a, b := s.Ports[0], s.Ports[1]
	if a.Rx != 1e6+100 || a.Tx != 50 || a.Dropped != 0 || b.Rx != 50 || b.Tx != 1e6+90 || b.Dropped != 10 || b.Generated != 32 {
		t.Errorf("port sums: %+v %+v", a, b)
	}
	if s.Forwarded() != 1e6+140 || s.Dropped() != 10 {
		t.Errorf("Forwarded %d Dropped %d", s.Forwarded(), s.Dropped())
	}
	if got := s.Mpps(); math.Abs(got-0.50007) > 1e-9 {
		t.Errorf("Mpps = %v", got)
	}

	prev := s
	prev.Ports = []PortStats{{Name: "a"}, {Name: "b", Tx: 90, Dropped: 10}}
	prev.Elapsed = time.Second
	r := Rates(prev, s)
	if len(r) != 2 || r[1].TxPPS != 1e6 || r[1].DropPPS != 0 || r[0].RxPPS != 1e6+100 {
		t.Errorf("Rates = %+v", r)
	}
	if Rates(s, s) != nil {
		t.Error("Rates over no time should be nil")
	}
	if (Stats{}).Mpps() != 0 {
		t.Error("Mpps of zero stats")
	}
}
