package main

import (
	"fmt"
	"io"
	"strings"
)

var (
	forwardedKeys = []string{"forwarded", "totalForwarded", "forwardedPackets", "packetsForwarded"}
	portRxKeys    = []string{"rx", "rxPackets"}
	portTxKeys    = []string{"tx", "txPackets"}
	portDropKeys  = []string{"dropped", "drops", "txDropped"}
)

// runSummary is what vmcheck run found in a nettune run -o json document.
type runSummary struct {
	Forwarded int64
	// Leaks are the counters whose key mentions a leak, by key.
	Leaks map[string]int64
	// Ports are the per-port rx, tx and dropped counters (nil when the
	// document has no port list).
	Ports []portCounters
}

type portCounters struct {
	Name            string
	Rx, Tx, Dropped int64
}

// summarize reads the forwarded total and the port list (from the
// shallowest object that has them) and every leak counter at any depth.
func summarize(doc any) (runSummary, error) {
	s := runSummary{Forwarded: -1, Leaks: map[string]int64{}}
	fwdDepth, portsDepth := -1, -1
	var ports []any
	objects(doc, 0, func(obj map[string]any, depth int) {
		f := flatten(obj)
		if p, ok := f["ports"].([]any); ok && (portsDepth < 0 || depth < portsDepth) {
			ports, portsDepth = p, depth
		}
		if n, _, ok := intField(f, forwardedKeys...); ok && (fwdDepth < 0 || depth < fwdDepth) {
			s.Forwarded, fwdDepth = n, depth
		}
		for k, v := range obj {
			if strings.Contains(normKey(k), "leak") {
				if n, ok := asInt(v); ok {
					s.Leaks[k] += n
				}
			}
		}
	})
	if s.Forwarded < 0 {
		return s, fmt.Errorf("no forwarded packet count in the run summary")
	}
	if ports == nil {
		return s, nil
	}
	for i, p := range ports {
		obj, ok := p.(map[string]any)
		if !ok {
			return s, fmt.Errorf("ports[%d] is not an object", i)
		}
		f := flatten(obj)
		pc := portCounters{Name: fmt.Sprint(i)}
		if n, ok := f["name"].(string); ok {
			pc.Name = n
		}
		var okRx, okTx, okDrop bool
		pc.Rx, _, okRx = intField(f, portRxKeys...)
		pc.Tx, _, okTx = intField(f, portTxKeys...)
		pc.Dropped, _, okDrop = intField(f, portDropKeys...)
		if !okRx || !okTx || !okDrop {
			return s, fmt.Errorf("ports[%d] lacks rx, tx or dropped (keys: %s)", i, f.keys())
		}
		s.Ports = append(s.Ports, pc)
	}
	return s, nil
}

// verifyRun asserts that packets were forwarded, that no leak counter is
// above zero, and that every packet received was either forwarded or
// counted as dropped.
func verifyRun(s runSummary) ([]string, error) {
	var lines []string
	if s.Forwarded <= 0 {
		return nil, fmt.Errorf("forwarded %d packets, want > 0", s.Forwarded)
	}
	lines = append(lines, fmt.Sprintf("forwarded %d packets", s.Forwarded))
	for k, n := range s.Leaks {
		if n != 0 {
			return nil, fmt.Errorf("%s = %d, want 0", k, n)
		}
		lines = append(lines, fmt.Sprintf("%s = 0", k))
	}
	if s.Ports != nil {
		var rx, tx, drop int64
		for _, p := range s.Ports {
			rx += p.Rx
			tx += p.Tx
			drop += p.Dropped
		}
		if rx != tx+drop {
			return nil, fmt.Errorf("received %d packets but forwarded %d and dropped %d: %d unaccounted for", rx, tx, drop, rx-tx-drop)
		}
		if tx != s.Forwarded {
			return nil, fmt.Errorf("forwarded total %d differs from the ports' tx sum %d", s.Forwarded, tx)
		}
		lines = append(lines, fmt.Sprintf("rx %d = tx %d + dropped %d over %d ports", rx, tx, drop, len(s.Ports)))
	}
	if len(s.Leaks) == 0 && s.Ports == nil {
		return nil, fmt.Errorf("the run summary has neither a leak counter nor per-port rx/tx/dropped: cannot tell whether packets leaked")
	}
	return lines, nil
}

func cmdRun(args []string, out io.Writer) error {
	fs := newFlags("run")
	file := fs.String("file", "", "nettune run -o json output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usageError{"need -file FILE"}
	}
	doc, err := readJSON(*file)
	if err != nil {
		return err
	}
	s, err := summarize(doc)
	if err != nil {
		return err
	}
	lines, err := verifyRun(s)
	if err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(out, "ok:", l)
	}
	return nil
}
