package exporter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"

	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descSetting = prometheus.NewDesc("nettune_setting_in_sync",
		"1 when the host has the profile's value for the setting (ok, or pending-reboot: configured for the next boot), 0 when it drifted. "+
			"A NIC's rx queues, tx queues and queue IRQs are one series per NIC and attribute (object ens3f0/rx-*, ens3f0/tx-*, ens3f0/* (irq *)), "+
			"per-CPU settings one series per attribute (object cpu*): 0 when any of them drifted.",
		[]string{"module", "object", "attribute"}, nil)
	descProfileInfo = prometheus.NewDesc("nettune_profile_info",
		"Always 1: the name of the profile being checked and the sha256 of its content as loaded (extends resolved): hosts checked against the same profile have the same hash.",
		[]string{"profile", "hash"}, nil)
	descGeneration = prometheus.NewDesc("nettune_journal_generation",
		"The newest generation in nettune's apply journal (the number apply printed and revert takes), 0 when the journal is empty.", nil, nil)
)

// setting is one series of nettune_setting_in_sync.
type setting struct{ module, object, attribute string }

// cpuObject is a per-CPU object (the cpu module's cpu12).
var cpuObject = regexp.MustCompile(`^cpu[0-9]+$`)

// seriesObject is the object label of an item's series: the queue group's
// glob for a per-queue object or queue IRQ, cpu* for a per-CPU object,
// else the object. The number of series is therefore that of the
// profile's settings per NIC, not that of the host's queues, IRQs or CPUs.
func seriesObject(object string) string {
	if g, ok := plan.QueueGroupOf(object); ok {
		return g.Glob
	}
	if cpuObject.MatchString(object) {
		return "cpu*"
	}
	return object
}

// settingSeries folds check's items into series: in sync when no item of
// the series drifted. An item the host cannot have (unsupported) is not a
// setting check compares and has no series.
func settingSeries(items []plan.Item) map[setting]bool {
	out := map[setting]bool{}
	for _, it := range items {
		if it.Status == plan.Unsupported {
			continue
		}
		k := setting{it.Module, seriesObject(it.Object), it.Attribute}
		inSync, seen := out[k]
		out[k] = (inSync || !seen) && it.Status != plan.Drift
	}
	return out
}

func collectSettings(items []plan.Item, ch chan<- prometheus.Metric) {
	for k, inSync := range settingSeries(items) {
		v := 0.0
		if inSync {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descSetting, prometheus.GaugeValue, v, k.module, k.object, k.attribute)
	}
}

// profileHash is the sha256 of the profile's content as loaded: its kind,
// metadata and spec with extends resolved, in JSON (struct fields in
// declaration order, map keys sorted), so neither the file's formatting nor
// its comments nor the way it is split over an extends chain change it.
func profileHash(p *profile.Profile) string {
	b, err := json.Marshal(struct {
		APIVersion, Kind string
		Metadata         profile.Metadata
		Spec             profile.Spec
	}{p.APIVersion, p.Kind, p.Metadata, p.Spec})
	if err != nil {
		panic(err) // a loaded profile holds strings, numbers, booleans and TextMarshalers
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
