package cli

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture/bighost"
	"github.com/nettune/nettune/pkg/cpuset"
	"github.com/nettune/nettune/pkg/plan"
)

func item(status plan.Status, object, attr, before, after string) plan.Item {
	return plan.Item{Change: plan.Change{Module: "nics", Object: object, Attribute: attr, Before: before, After: after}, Status: status}
}

func TestGroupItemsFoldsQueues(t *testing.T) {
	var items []plan.Item
	items = append(items, item(plan.Drift, "ens3f0", "rings/channels", "rx-ring=512", "rx-ring=4096"))
	for q := 0; q < 64; q++ {
		items = append(items, item(plan.OK, fmt.Sprintf("ens3f0/rx-%d", q), "rps_cpus", "3", "3"))
	}
	for q := 0; q < 4; q++ {
		items = append(items, item(plan.OK, fmt.Sprintf("ens3f0/TxRx-%d (irq %d)", q, 100+q), "smp_affinity_list", fmt.Sprint(q%2), fmt.Sprint(q%2)))
	}
	items = append(items, item(plan.Drift, "ens3f0/rx-7", "rps_flow_cnt", "0", "512"))
	orphan := item(plan.Drift, "ens3f0/rx-8", "rps_flow_cnt", "4096", "0")
	orphan.Orphan = true
	items = append(items, orphan, item(plan.OK, "ens3f1/rx-0", "rps_cpus", "3", "3"), item(plan.OK, "ens3f1/rx-1", "rps_cpus", "1", "3"))

	var got []string
	for _, r := range groupItems(items) {
		got = append(got, strings.Join([]string{string(r.Status), r.Object, r.Attribute, r.Before, r.After}, "|"))
	}
	want := []string{
		"drift|ens3f0|rings/channels|rx-ring=512|rx-ring=4096",
		"ok|64 rx queues of ens3f0|rps_cpus|3|3",
		"ok|4 IRQs of ens3f0|smp_affinity_list|(2 values)|(2 values)",
		// Alone in its group: the queue is named.
		"drift|ens3f0/rx-7|rps_flow_cnt|0|512",
		// Orphans are never folded: each is a setting apply takes back.
		"drift|ens3f0/rx-8|rps_flow_cnt|4096|0",
		"ok|2 rx queues of ens3f1|rps_cpus|(2 values)|3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("groupItems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(checkRows(items, true)); n != len(items) {
		t.Fatalf("verbose: %d rows for %d items", n, len(items))
	}
}

// TestCheckFoldsQueueRows: on a generated host (internal/fixture/bighost)
// check prints one row per NIC for its queues unless --verbose; JSON keeps
// every item.
func TestCheckFoldsQueueRows(t *testing.T) {
	root := t.TempDir() + "/root"
	s := bighost.Spec{CPUs: 8, Nodes: 2, NICs: 2, Queues: 8, Isolated: cpuset.MustParse("3,7")}
	if err := bighost.Write(root, s); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--interval", "0", "--root", root, bigProfileSmall(t)}
	r := run(t, "", false, args...)
	if r.code != ExitDrift || !strings.Contains(r.stdout, "8 rx queues of ens1f0") || strings.Contains(r.stdout, "ens1f0/rx-7") {
		t.Fatalf("check: exit %d\n%s", r.code, r.both())
	}
	v := run(t, "", false, append(args, "--verbose")...)
	if v.code != ExitDrift || !strings.Contains(v.stdout, "ens1f0/rx-7") || strings.Contains(v.stdout, "rx queues of") {
		t.Fatalf("check --verbose: exit %d\n%s", v.code, v.both())
	}
	j := run(t, "", false, append(args, "-o", "json")...)
	if n := strings.Count(j.stdout, `"object": "ens1f0/rx-`); n != 16 { // rps_cpus and rps_flow_cnt
		t.Fatalf("check -o json has %d rx queue items of ens1f0, want 16\n%s", n, j.stdout)
	}
}

// bigProfileSmall is the benchmark profile with CPU lists that fit an
// 8-CPU host.
func bigProfileSmall(t *testing.T) string {
	b, err := os.ReadFile(bigProfile)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(`"0-1,128-129"`, `"0-1,4-5"`, "2-63,66-127,130-191,194-255", "3,7", "queues: 32", "queues: 4").Replace(string(b))
	p := t.TempDir() + "/small.yaml"
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
