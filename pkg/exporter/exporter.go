// Package exporter serves nettune's view of a host as Prometheus metrics:
// drift per module and per setting (when a profile is given), the
// profile's identity and the journal's generation, the diagnostic findings, the
// softnet and NIC counters the diagnostics read, and the statistics of a
// running forwarder. Everything is read at scrape time; counters are
// exported as counters so that Prometheus computes the rates.
package exporter

import (
	"context"
	"log/slog"
	"sort"
	"strconv"

	"github.com/nettune/nettune/pkg/diagnose"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/numa"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector implements prometheus.Collector. Collect may run for several
// scrapes at once (several Prometheus servers, a retry after a timeout): it
// never writes the fields below (each scrape plans on its own copy of the
// engine), and the ProfileWatcher guards its own state.
type Collector struct {
	Engine  *engine.Engine
	Profile *ProfileWatcher // nil: no drift metrics
	Log     *slog.Logger
}

var (
	descItems = prometheus.NewDesc("nettune_profile_items",
		"Settings of the profile by module and check status (ok, drift, pending-reboot).",
		[]string{"profile", "module", "status"}, nil)
	descInSync = prometheus.NewDesc("nettune_profile_in_sync",
		"1 when every setting of the profile is ok, 0 otherwise.", []string{"profile"}, nil)
	descCheckError = prometheus.NewDesc("nettune_profile_check_errors",
		"Problems of severity error found while checking the profile (it does not fit the host).", []string{"profile"}, nil)
	descFinding = prometheus.NewDesc("nettune_diagnostic_finding",
		"1 while the diagnostic rule has a finding of this severity, else 0; every rule has a series per severity (rules that need two samples are not run here; see the counters).",
		[]string{"rule", "name", "severity"}, nil)
	descSoftnetProcessed = prometheus.NewDesc("nettune_softnet_processed_packets_total",
		"Packets processed by the receive softirq, per CPU (/proc/net/softnet_stat column 1).", []string{"cpu"}, nil)
	descSoftnetDropped = prometheus.NewDesc("nettune_softnet_dropped_packets_total",
		"Packets dropped because the CPU's input backlog was full (softnet_stat column 2).", []string{"cpu"}, nil)
	descSoftnetSqueezed = prometheus.NewDesc("nettune_softnet_time_squeeze_total",
		"Times the receive softirq ran out of budget with work left (softnet_stat column 3).", []string{"cpu"}, nil)
	descSoftnetFlowLimit = prometheus.NewDesc("nettune_softnet_flow_limit_packets_total",
		"Packets dropped by the per-flow backlog limit.", []string{"cpu"}, nil)
	descNIC = prometheus.NewDesc("nettune_nic_statistic_total",
		"Counters from /sys/class/net/<interface>/statistics.", []string{"interface", "counter"}, nil)
	descUp = prometheus.NewDesc("nettune_scrape_success",
		"1 when the whole scrape could be done: the host read, the diagnostics run, the profile checked.", nil, nil)
)

// severities are the values of nettune_diagnostic_finding's severity
// label: a series for each, whether the rule found something or not, so
// that the family's label set never changes.
var severities = []diagnose.Severity{diagnose.Error, diagnose.Warning, diagnose.Info}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descItems, descInSync, descCheckError, descLoadSuccess, descLoadedAt, descLoadErrors, descFinding, descSoftnetProcessed, descSoftnetDropped, descSoftnetSqueezed, descSoftnetFlowLimit, descNIC, descFwd, descFwdB, descFwdErr, descFwdX, descFwdUp, descFwdUpdated, descUp, descSetting, descProfileInfo, descGeneration} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. nettune_scrape_success is 0
// when a part of the scrape could not be done: the profile's last reload
// failed, the journal's directory or the host's CPU topology or
// softnet_stat could not be read, the
// diagnostics failed, the profile's check returned no result, or the
// forwarder's statistics are unreadable.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	r := c.Engine.Env.Root
	ok := true
	var spec *profile.Spec
	if c.Profile != nil {
		st := c.Profile.current()
		spec = &st.profile.Spec
		ok = st.collect(ch)
		ok = c.collectDrift(ctx, scrapeEngine(c.Engine), st.profile, ch) && ok
	}
	ok = c.collectGeneration(r, ch) && ok
	ok = c.collectFindings(ctx, r, spec, ch) && ok
	ok = c.collectCounters(r, ch) && ok
	ok = c.collectForwarder(r, ch) && ok
	up := 0.0
	if ok {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up)
}

// collectGeneration exports the newest generation of the journal; false
// when the journal's directory cannot be read.
func (c *Collector) collectGeneration(r *host.Root, ch chan<- prometheus.Metric) bool {
	n, err := engine.LatestGeneration(r)
	if err != nil {
		c.Log.Warn("cannot read the journal", "dir", r.State("generations"), "err", err)
		return false
	}
	ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(n))
	return true
}

// collectFindings runs the diagnostic rules that need one sample.
func (c *Collector) collectFindings(ctx context.Context, r *host.Root, spec *profile.Spec, ch chan<- prometheus.Metric) bool {
	findings, err := diagnose.Run(ctx, r, diagnose.Options{Spec: spec})
	if err != nil {
		c.Log.Warn("diagnostics failed", "err", err)
	}
	fired := map[[2]string]bool{}
	for _, f := range findings {
		fired[[2]string{f.Rule, string(f.Severity)}] = true
	}
	for _, rule := range diagnose.Rules() {
		if rule.Rate {
			continue
		}
		for _, sev := range severities {
			v := 0.0
			if fired[[2]string{rule.ID, string(sev)}] {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descFinding, prometheus.GaugeValue, v, rule.ID, rule.Name, string(sev))
		}
	}
	return err == nil
}

// collectCounters exports the softnet and NIC counters. A host whose CPU
// topology or softnet_stat cannot be read is not being read at all (the
// kernel lists every online CPU in softnet_stat).
func (c *Collector) collectCounters(r *host.Root, ch chan<- prometheus.Metric) bool {
	ok := true
	topo, err := numa.Read(r)
	if err != nil {
		c.Log.Warn("cannot read the CPU topology", "err", err)
		topo, ok = &numa.Topology{}, false
	}
	s, err := diagnose.TakeSample(r, topo)
	if err != nil {
		c.Log.Warn("cannot sample the host's counters", "err", err)
		return false
	}
	if len(s.Softnet) == 0 {
		c.Log.Warn("no CPU in softnet_stat: the host's counters cannot be read", "file", r.Proc("net/softnet_stat"))
		ok = false
	}
	cpus := make([]int, 0, len(s.Softnet))
	for cpu := range s.Softnet {
		cpus = append(cpus, cpu)
	}
	sort.Ints(cpus)
	for _, cpu := range cpus {
		st, l := s.Softnet[cpu], strconv.Itoa(cpu)
		ch <- prometheus.MustNewConstMetric(descSoftnetProcessed, prometheus.CounterValue, float64(st.Processed), l)
		ch <- prometheus.MustNewConstMetric(descSoftnetDropped, prometheus.CounterValue, float64(st.Dropped), l)
		ch <- prometheus.MustNewConstMetric(descSoftnetSqueezed, prometheus.CounterValue, float64(st.TimeSqueezed), l)
		ch <- prometheus.MustNewConstMetric(descSoftnetFlowLimit, prometheus.CounterValue, float64(st.FlowLimitCount), l)
	}
	for nic, counters := range s.NICStats {
		for name, v := range counters {
			ch <- prometheus.MustNewConstMetric(descNIC, prometheus.CounterValue, float64(v), nic, name)
		}
	}
	return ok
}

// scrapeEngine returns a copy of eng with an Env of its own for one scrape:
// Plan records the profile's name in its Env, and two scrapes must not
// write the same one. The modules are values without state.
func scrapeEngine(eng *engine.Engine) *engine.Engine {
	e, env := *eng, *eng.Env
	e.Env = &env
	return &e
}

// collectDrift checks the profile; false when the check returned no
// result (a profile that does not fit the host is a result: its errors are
// counted in nettune_profile_check_errors).
func (c *Collector) collectDrift(ctx context.Context, eng *engine.Engine, p *profile.Profile, ch chan<- prometheus.Metric) bool {
	name := p.Metadata.Name
	pr, err := eng.Check(ctx, p)
	if pr == nil {
		c.Log.Warn("check failed", "profile", name, "err", err)
		ch <- prometheus.MustNewConstMetric(descCheckError, prometheus.GaugeValue, 1, name)
		return false
	}
	ch <- prometheus.MustNewConstMetric(descCheckError, prometheus.GaugeValue, float64(len(pr.Errors())), name)
	counts := map[[2]string]int{}
	for _, m := range engine.UsedSections(&p.Spec) {
		for _, st := range []plan.Status{plan.OK, plan.Drift, plan.PendingReboot} {
			counts[[2]string{m, string(st)}] = 0
		}
	}
	for _, it := range pr.Items {
		counts[[2]string{it.Module, string(it.Status)}]++
	}
	for k, v := range counts {
		ch <- prometheus.MustNewConstMetric(descItems, prometheus.GaugeValue, float64(v), name, k[0], k[1])
	}
	collectSettings(pr.Items, ch)
	inSync := 0.0
	if err == nil && pr.Count(plan.Drift) == 0 && pr.Count(plan.PendingReboot) == 0 {
		inSync = 1
	}
	ch <- prometheus.MustNewConstMetric(descInSync, prometheus.GaugeValue, inSync, name)
	return true
}
