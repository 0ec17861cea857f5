package exporter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/plan"
	"github.com/nettune/nettune/pkg/profile"
	dto "github.com/prometheus/client_model/go"
)

// settingValues returns nettune_setting_in_sync of a scrape by
// "module|object|attribute".
func settingValues(t *testing.T, fams map[string]*dto.MetricFamily) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range fams["nettune_setting_in_sync"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		k := l["module"] + "|" + l["object"] + "|" + l["attribute"]
		if _, dup := out[k]; dup {
			t.Errorf("two series %s", k)
		}
		out[k] = m.GetGauge().GetValue()
	}
	return out
}

func it(status plan.Status, module, object, attr string) plan.Item {
	return plan.Item{Change: plan.Change{Module: module, Object: object, Attribute: attr}, Status: status}
}

// TestSettingSeriesFold: a NIC's queues and queue IRQs and the CPUs fold
// into one series per attribute, out of sync when any member drifted;
// pending-reboot is in sync (configured, waiting for the boot);
// unsupported items have no series; orphans are drift.
func TestSettingSeriesFold(t *testing.T) {
	var items []plan.Item
	for q := range 64 {
		st := plan.OK
		if q == 17 {
			st = plan.Drift
		}
		items = append(items, it(st, "nics", fmt.Sprintf("ens3f0/rx-%d", q), "rps_cpus"), it(plan.OK, "nics", fmt.Sprintf("ens3f0/rx-%d", q), "rps_flow_cnt"))
		items = append(items, it(plan.OK, "nics", fmt.Sprintf("ens3f0/tx-%d", q), "xps_cpus"), it(plan.OK, "nics", fmt.Sprintf("ens3f0/TxRx-%d (irq %d)", q, 200+q), "smp_affinity_list"))
		items = append(items, it(plan.OK, "nics", fmt.Sprintf("ens3f1/rx-%d", q), "rps_cpus"))
	}
	for c := range 8 {
		items = append(items, it(plan.OK, "cpu", fmt.Sprintf("cpu%d", c), "scaling_governor"))
	}
	orphan := it(plan.Drift, "nics", "ens3f1/tx-3", "xps_cpus")
	orphan.Orphan = true
	items = append(items,
		it(plan.OK, "nics", "ens3f0", "txqueuelen"),
		it(plan.Drift, "nics", "ens3f1", "txqueuelen"),
		it(plan.PendingReboot, "cpu", "/etc/default/grub", "kernelArgs"),
		it(plan.Unsupported, "hugepages", "transparent_hugepage", "enabled"),
		it(plan.Unsupported, "cpu", "cpu8-15", "scaling_governor"),
		orphan,
	)
	got := map[string]bool{}
	for k, v := range settingSeries(items) {
		got[k.module+"|"+k.object+"|"+k.attribute] = v
	}
	want := map[string]bool{
		"nics|ens3f0/rx-*|rps_cpus":               false, // rx-17 drifted
		"nics|ens3f0/rx-*|rps_flow_cnt":           true,
		"nics|ens3f0/tx-*|xps_cpus":               true,
		"nics|ens3f0/* (irq *)|smp_affinity_list": true,
		"nics|ens3f1/rx-*|rps_cpus":               true,
		"nics|ens3f1/tx-*|xps_cpus":               false, // the orphan
		"cpu|cpu*|scaling_governor":               true,
		"nics|ens3f0|txqueuelen":                  true,
		"nics|ens3f1|txqueuelen":                  false,
		"cpu|/etc/default/grub|kernelArgs":        true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("series:\n%v\nwant:\n%v", got, want)
	}
	// The drifted member's place does not matter: first, last, alone.
	for _, q := range []int{0, 63} {
		items := []plan.Item{}
		for i := range 64 {
			st := plan.OK
			if i == q {
				st = plan.Drift
			}
			items = append(items, it(st, "nics", fmt.Sprintf("ens3f0/rx-%d", i), "rps_cpus"))
		}
		if s := settingSeries(items); len(s) != 1 || s[setting{"nics", "ens3f0/rx-*", "rps_cpus"}] {
			t.Errorf("rx-%d drifted: %v", q, s)
		}
	}
}

// TestSettingSeriesForEveryItem: every setting check compares has its
// series, 1 when ok and 0 when drifted; a setting in sync that has no
// series fails.
func TestSettingSeriesForEveryItem(t *testing.T) {
	c := testCollector(t)
	pr, _ := c.Engine.Check(context.Background(), c.Profile.current().profile)
	if pr == nil || len(pr.Items) < 3 {
		t.Fatalf("check: %+v", pr)
	}
	got := settingValues(t, scrape(t, c))
	ok := 0
	for _, item := range pr.Items {
		want := 1.0
		if item.Status == plan.Drift {
			want = 0
		} else {
			ok++
		}
		k := item.Module + "|" + item.Object + "|" + item.Attribute
		if v, found := got[k]; !found || v != want {
			t.Errorf("%s is %s: series %v (found %v), want %v", k, item.Status, v, found, want)
		}
	}
	if ok == 0 || len(got) != len(pr.Items) {
		t.Errorf("%d series for %d items (%d ok): %v", len(got), len(pr.Items), ok, got)
	}
	if got["sysctl|net.core.netdev_max_backlog|value"] != 1 || got["sysctl|net.core.netdev_budget|value"] != 0 {
		t.Errorf("series %v", got)
	}
}

// TestSettingDriftFlipsOneSeries applies the profile to the fixture root,
// then changes one of its settings behind nettune's back: that setting's
// series goes to 0, every other stays 1, and no series comes or goes.
func TestSettingDriftFlipsOneSeries(t *testing.T) {
	path := writeProfile(t, "apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: p}\nspec:\n  sysctl:\n    net.core.netdev_max_backlog: 4000\n    net.core.netdev_budget: 600\n    net.core.netdev_budget_usecs: 4000\n")
	c := testCollectorFor(t, path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	root := c.Engine.Env.Root.Prefix
	if v, _ := value(scrape(t, c)["nettune_journal_generation"], nil); v != 0 {
		t.Fatalf("generation %v before any apply", v)
	}
	res, err := c.Engine.ApplyWith(context.Background(), c.Profile.current().profile, engine.ApplyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, c)
	before := settingValues(t, fams)
	if len(before) != 4 { // three sysctls and the sysctl.d file
		t.Fatalf("after apply: %v", before)
	}
	for k, v := range before {
		if v != 1 {
			t.Errorf("after apply %s = %v", k, v)
		}
	}
	if v, _ := value(fams["nettune_journal_generation"], nil); v != float64(res.Generation) || v < 1 {
		t.Errorf("nettune_journal_generation %v, apply made generation %d", v, res.Generation)
	}

	fixture.Overwrite(t, filepath.Join(root, "proc/sys/net/core/netdev_budget"), []byte("300\n"))
	after := settingValues(t, scrape(t, c))
	if len(after) != len(before) {
		t.Fatalf("series changed: %v, then %v", before, after)
	}
	for k := range before {
		want := 1.0
		if k == "sysctl|net.core.netdev_budget|value" {
			want = 0
		}
		if v, ok := after[k]; !ok || v != want {
			t.Errorf("after the change %s = %v (found %v), want %v", k, v, ok, want)
		}
	}
}

// TestProfileInfo: nettune_profile_info carries the profile's name and a
// hash that follows the content as loaded, not the file's form.
func TestProfileInfo(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hashOf := func(t *testing.T, path string) string {
		t.Helper()
		fams := scrape(t, testCollectorFor(t, path, log))
		ms := fams["nettune_profile_info"].GetMetric()
		if len(ms) != 1 || ms[0].GetGauge().GetValue() != 1 {
			t.Fatalf("nettune_profile_info: %v", ms)
		}
		l := map[string]string{}
		for _, p := range ms[0].GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["profile"] != "p" || len(l["hash"]) != 64 {
			t.Fatalf("labels %v", l)
		}
		return l["hash"]
	}
	h := hashOf(t, writeProfile(t, testProfile))
	// Another layout, a comment, keys in another order, the same values.
	same := "# a comment\napiVersion: nettune/v1\nkind: Profile\nmetadata:\n  name: p\nspec:\n  sysctl:\n    net.core.netdev_budget: 600\n    net.core.netdev_max_backlog: \"1000\"\n"
	if h2 := hashOf(t, writeProfile(t, same)); h2 != h {
		t.Errorf("the same profile written otherwise hashes %s, not %s", h2, h)
	}
	// The same content split over an extends chain.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "base.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: base}\nspec:\n  sysctl:\n    net.core.netdev_budget: 600\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: p}\nextends: base.yaml\nspec:\n  sysctl:\n    net.core.netdev_max_backlog: 1000\n"), 0o644)
	if h3 := hashOf(t, filepath.Join(dir, "p.yaml")); h3 != h {
		t.Errorf("the same profile through extends hashes %s, not %s", h3, h)
	}
	if h4 := hashOf(t, writeProfile(t, strings.Replace(testProfile, "600", "601", 1))); h4 == h {
		t.Error("a changed value keeps the hash")
	}
}

// TestProfileHashSeesEveryField: the hash is of the profile's JSON, so
// every field of the profile's types must reach the JSON: exported, or in
// a type that marshals itself. A field that does not would let two
// different profiles hash alike.
func TestProfileHashSeesEveryField(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Map {
			if ty.Kind() == reflect.Map {
				walk(ty.Key(), path+"[key]")
			}
			ty = ty.Elem()
		}
		if seen[ty] {
			return
		}
		seen[ty] = true
		text := reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()
		js := reflect.TypeFor[interface{ MarshalJSON() ([]byte, error) }]()
		if ty.Implements(text) || ty.Implements(js) || ty.Kind() != reflect.Struct {
			return
		}
		for i := range ty.NumField() {
			f := ty.Field(i)
			if !f.IsExported() {
				t.Errorf("%s.%s (%s) is unexported: the profile hash does not see it", path, f.Name, ty)
			}
			if f.Tag.Get("json") == "-" && f.Tag.Get("yaml") != "-" {
				t.Errorf("%s.%s is left out of the JSON: the profile hash does not see it", path, f.Name)
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	walk(reflect.TypeFor[profile.Spec](), "spec")
	walk(reflect.TypeFor[profile.Metadata](), "metadata")
	if len(seen) < 10 {
		t.Fatalf("walked only %d types", len(seen))
	}

	// Every shipped profile hashes, each to its own value.
	names := profile.Shipped()
	hashes := map[string]string{}
	for _, n := range names {
		p, err := profile.Load(n)
		if err != nil {
			t.Fatal(err)
		}
		h := profileHash(p)
		if other, dup := hashes[h]; dup {
			t.Errorf("%s and %s hash alike", n, other)
		}
		hashes[h] = n
	}
	if len(hashes) < 3 {
		keys := make([]string, 0, len(hashes))
		for _, n := range hashes {
			keys = append(keys, n)
		}
		sort.Strings(keys)
		t.Errorf("hashed only %v", keys)
	}
}

// TestUnreadableJournal: a journal directory that cannot be listed makes
// the scrape incomplete and leaves nettune_journal_generation out, rather
// than serving 0 (no apply) for a host that was applied.
func TestUnreadableJournal(t *testing.T) {
	c := testCollector(t)
	state := filepath.Join(c.Engine.Env.Root.Prefix, "var/lib/nettune")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "generations"), []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, c)
	if _, ok := fams["nettune_journal_generation"]; ok {
		t.Error("nettune_journal_generation served for a journal that cannot be read")
	}
	if v, _ := value(fams["nettune_scrape_success"], nil); v != 0 {
		t.Errorf("nettune_scrape_success %v with an unreadable journal", v)
	}
}
