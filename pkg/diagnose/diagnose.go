// Package diagnose is the doctor behind `nettune check`: rules with stable
// IDs that look at the host (and, when given, the profile) for the problems
// that cost packet-processing hosts their performance — packets dropped in
// the backlog or by the NIC, softirq budgets running out, interrupts and
// timer ticks landing on isolated CPUs, irqbalance undoing pinned
// affinities, hugepage shortfalls, a missing IOMMU, CPUs throttled by their
// frequency governor. Each finding carries evidence and the exact remedy.
//
// Rules that measure rates take two samples of the counters, Interval
// apart; the others read the host once.
package diagnose

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/irqaffinity"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/profile"
)

// Severity of a finding.
type Severity string

// Severities.
const (
	Info    Severity = "info"
	Warning Severity = "warning"
	Error   Severity = "error"
)

// Finding is one problem a rule found.
type Finding struct {
	Rule     string   `json:"rule" yaml:"rule"`
	Name     string   `json:"name" yaml:"name"`
	Severity Severity `json:"severity" yaml:"severity"`
	Object   string   `json:"object,omitempty" yaml:"object,omitempty"`
	Message  string   `json:"message" yaml:"message"`
	Evidence string   `json:"evidence,omitempty" yaml:"evidence,omitempty"`
	Remedy   string   `json:"remedy" yaml:"remedy"`
}

// Input is what the rules look at.
type Input struct {
	Root *host.Root
	Topo *numa.Topology
	// Spec is the profile's spec, nil when check runs without a profile.
	Spec *profile.Spec
	// Before and After are counter samples Interval apart.
	Before, After *Sample
	Interval      time.Duration

	// comms are the commands of the running processes (Input.running).
	comms map[string]bool
}

// Rule is one diagnostic.
type Rule struct {
	ID   string
	Name string
	// Doc explains what the rule looks for and why it matters.
	Doc string
	// Run returns the rule's findings (none when all is well).
	Run func(in *Input) []Finding
	// Rate rules compare two samples; they are skipped without an
	// interval. Only they may read Input.Before and After: without an
	// interval nothing is sampled (TestOnlyRateRulesReadSamples).
	Rate bool
}

// Options for Run.
type Options struct {
	Spec     *profile.Spec
	Interval time.Duration
	// Sleep waits between samples (tests replace it).
	Sleep func(context.Context, time.Duration) error
	// Rules to run; nil means all.
	Rules []Rule
}

// Run samples the host, runs the rules and returns their findings sorted
// by severity then rule.
func Run(ctx context.Context, r *host.Root, opt Options) ([]Finding, error) {
	topo, err := numa.ReadOnce(ctx, r)
	if err != nil {
		// A partial snapshot without CPU topology: the rules that need it
		// find nothing to look at; the others still run.
		topo = &numa.Topology{}
	}
	in := &Input{Root: r, Topo: topo, Spec: opt.Spec, Interval: opt.Interval}
	// Only the rate rules read samples, and they compare two: with no
	// interval they are skipped, and nothing is sampled.
	in.Before, in.After = &Sample{}, &Sample{}
	if opt.Interval > 0 {
		read := func() (*irqaffinity.Table, error) { return irqaffinity.ReadInterruptTable(r) }
		if in.Before, err = takeSample(r, topo, read, true); err != nil {
			return nil, err
		}
		sleep := opt.Sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if err := sleep(ctx, opt.Interval); err != nil {
			return nil, err
		}
		if in.After, err = takeSample(r, topo, read, true); err != nil {
			return nil, err
		}
	}
	rules := opt.Rules
	if rules == nil {
		rules = Rules()
	}
	var out []Finding
	for _, rule := range rules {
		if rule.Rate && opt.Interval <= 0 {
			continue
		}
		for _, f := range rule.Run(in) {
			f.Rule, f.Name = rule.ID, rule.Name
			out = append(out, f)
		}
	}
	rank := map[Severity]int{Error: 0, Warning: 1, Info: 2}
	sort.SliceStable(out, func(i, j int) bool {
		if rank[out[i].Severity] != rank[out[j].Severity] {
			return rank[out[i].Severity] < rank[out[j].Severity]
		}
		return out[i].Rule < out[j].Rule
	})
	return out, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// per formats a count over the interval as a rate.
func per(n uint64, d time.Duration) string {
	return fmt.Sprintf("%d in %s (%.1f/s)", n, d, float64(n)/d.Seconds())
}
