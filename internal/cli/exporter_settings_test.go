package cli

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/internal/fixture/bighost"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/module"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// inSyncSeries scrapes what nettune exporter serves for the root and the
// profile, with every module, and returns nettune_setting_in_sync by
// "module|object|attribute".
func inSyncSeries(t *testing.T, root, ref string) map[string]float64 {
	t.Helper()
	r, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := exporterHandler(engine.New(&module.Env{Root: r, Log: log}, "test", Modules()), log, ref)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, m := range fams["nettune_setting_in_sync"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		out[l["module"]+"|"+l["object"]+"|"+l["attribute"]] = m.GetGauge().GetValue()
	}
	return out
}

// bigHostSettings is the number of nettune_setting_in_sync series of the
// bighost profile (internal/fixture/bighost/nics.yaml) on n NICs, whatever
// their queue count: per NIC rings/channels, rss, coalesce, three
// features and txqueuelen, and four folded series (rx queues' rps_cpus
// and rps_flow_cnt, tx queues' xps_cpus, queue IRQs' smp_affinity_list);
// then rps_sock_flow_entries and irqbalance's file.
func bigHostSettings(nics int) int { return nics*(7+4) + 2 }

// TestSettingSeriesBoundedOnBigHost: on the 256-CPU host with 16 NICs of
// 256 queues (16,498 check items, before the profile is applied) the
// exporter serves one series per NIC and setting, as many as with 32
// queues per NIC, and every one is there.
func TestSettingSeriesBoundedOnBigHost(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 256-CPU, 4,112-IRQ host fixture")
	}
	counts := map[int]int{}
	for _, queues := range []int{32, 256} {
		root := bigRootT(t, bighost.Default(queues))
		got := inSyncSeries(t, root, bigProfile)
		counts[queues] = len(got)
		for k, v := range got {
			if strings.Contains(k, "/rx-") && !strings.Contains(k, "/rx-*|") || strings.Contains(k, "(irq ") && !strings.Contains(k, "/* (irq *)|") {
				t.Errorf("%d queues: a per-queue series %s", queues, k)
			}
			// Before the apply only the features are as the profile
			// wants them (and, with 32 queues, RSS over all of them).
			if want := strings.Contains(k, "|feature:") || queues == 32 && strings.HasSuffix(k, "|rss"); (v == 1) != want {
				t.Errorf("%d queues: %s = %v before the profile is applied", queues, k, v)
			}
		}
		for nic := range 16 {
			name := fmt.Sprintf("ens%df%d", nic/2+1, nic%2)
			for _, k := range []string{name + "/rx-*|rps_cpus", name + "/rx-*|rps_flow_cnt", name + "/tx-*|xps_cpus", name + "/* (irq *)|smp_affinity_list", name + "|txqueuelen"} {
				if _, ok := got["nics|"+k]; !ok {
					t.Errorf("%d queues: no series nics|%s", queues, k)
				}
			}
		}
	}
	if counts[32] != bigHostSettings(16) || counts[256] != bigHostSettings(16) {
		t.Errorf("series: %v by queues per NIC, want %d whatever the queues", counts, bigHostSettings(16))
	}
}

// bigRootT writes a bighost fixture on tmpfs when there is one.
func bigRootT(t *testing.T, s bighost.Spec) string {
	t.Helper()
	dir := t.TempDir()
	if d, err := os.MkdirTemp("/dev/shm", "nettune-bighost-"); err == nil {
		dir = d
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	root := filepath.Join(dir, "root")
	if err := bighost.Write(root, s); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestSettingSeriesDriftOnFixtureHost applies the bighost profile to a
// small generated host, then changes one queue's rps_cpus and then one
// NIC's txqueuelen behind nettune's back: exactly the series of that
// setting goes to 0 each time, every other stays 1, and the set of series
// stays the same.
func TestSettingSeriesDriftOnFixtureHost(t *testing.T) {
	root := t.TempDir() + "/root"
	if err := bighost.Write(root, bighost.Spec{CPUs: 8, Nodes: 2, NICs: 2, Queues: 8, Isolated: cpuset.MustParse("3,7")}); err != nil {
		t.Fatal(err)
	}
	prof := bigProfileSmall(t)
	if r := run(t, "", false, "apply", "--yes", "--root", root, prof); r.code != ExitOK {
		t.Fatalf("apply: exit %d\n%s", r.code, r.both())
	}
	applied := inSyncSeries(t, root, prof)
	if len(applied) != bigHostSettings(2) {
		t.Fatalf("%d series after apply, want %d: %v", len(applied), bigHostSettings(2), applied)
	}
	for k, v := range applied {
		if v != 1 {
			t.Errorf("after apply %s = %v", k, v)
		}
	}

	drifted := map[string]bool{}
	for _, change := range []struct{ file, content, series string }{
		{"sys/class/net/ens1f0/queues/rx-3/rps_cpus", "00\n", "nics|ens1f0/rx-*|rps_cpus"},
		{"sys/class/net/ens1f1/tx_queue_len", "1000\n", "nics|ens1f1|txqueuelen"},
	} {
		if _, ok := applied[change.series]; !ok {
			t.Fatalf("no series %s: %v", change.series, applied)
		}
		fixture.Overwrite(t, filepath.Join(root, change.file), []byte(change.content))
		drifted[change.series] = true
		got := inSyncSeries(t, root, prof)
		if len(got) != len(applied) {
			t.Errorf("after %s: %d series, %d before", change.file, len(got), len(applied))
		}
		for k := range applied {
			want := 1.0
			if drifted[k] {
				want = 0
			}
			if v, ok := got[k]; !ok || v != want {
				t.Errorf("after %s: %s = %v (found %v), want %v", change.file, k, v, ok, want)
			}
		}
	}
}
