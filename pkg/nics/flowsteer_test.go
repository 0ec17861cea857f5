package nics_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettune/nettune/internal/fixture"
	"github.com/nettune/nettune/pkg/engine"
	"github.com/nettune/nettune/pkg/ethtool"
	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/plan"
)

// ixgbeSteering gives eth0 (ixgbe in multi.txtar) what ixgbe reports:
// rx-ntuple-filter off but settable, a 1022-entry perfect-filter table
// ((1024 << fdir_pballoc) - 2) that takes numbered locations, a 40-byte
// key with toeplitz only, and rx-flow-hash where tcp4/tcp6 must be sdfn
// and udp4/udp6 sd or sdfn (ixgbe_set_rss_hash_opt). edit changes it
// further.
func ixgbeSteering(t *testing.T, dir string, edit func(*ethtool.State)) {
	t.Helper()
	p := filepath.Join(dir, "var/lib/nettune-snapshot/ethtool/eth0.json")
	st, err := ethtool.DecodeState(mustRead(t, p))
	if err != nil {
		t.Fatal(err)
	}
	st.Features["rx-ntuple-filter"] = ethtool.Feature{Active: false}
	st.NTuple = &ethtool.NTupleState{Size: 1022}
	st.RSSHash = &ethtool.RSSHashState{Func: "toeplitz", Funcs: []string{"toeplitz"}, KeySize: 40,
		Key: "6d:5a:56:da:25:5b:0e:c2:41:67:25:3d:43:a3:8f:b0:d0:ca:2b:cb:ae:7b:30:b4:77:cb:2d:a3:80:30:f2:0c:6a:42:b7:3b:be:ac:01:fa"}
	st.FlowHash = map[string]string{"tcp4": "sdfn", "udp4": "sd", "tcp6": "sdfn", "udp6": "sd"}
	st.FlowHashChoices = map[string][]string{"tcp4": {"sdfn"}, "tcp6": {"sdfn"}, "udp4": {"sd", "sdfn"}, "udp6": {"sd", "sdfn"}}
	if edit != nil {
		edit(st)
	}
	fixture.Overwrite(t, p, st.Encode())
}

const steerSpec = `  nics:
    - match: {name: eth0}
      rss:
        weights: [2, 1, 1]
        startQueue: 1
        hashKey: "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77"
        hashFunction: toeplitz
        flowHash: {udp4: sdfn}
      ntuple:
        - {flowType: udp4, dst: 10.0.0.0/24, dstPort: 4789, queue: 2}
        - {flowType: tcp6, src: "2001:db8::1", queue: 1, location: 7}
        - {flowType: ether, dst: "02:00:00:00:00:01", vlan: 100, drop: true}
`

// TestSteeringRoundTrip: plan, apply, check and revert of every new key
// on an ixgbe-like NIC: rx-ntuple-filter is turned on before the rules and
// off again after them, the rules land at their locations (the free ones
// lowest first), a second plan is all in place, and revert leaves the
// tree byte-identical.
func TestSteeringRoundTrip(t *testing.T) {
	dir := fixture.Unpack(t, multiFixture)
	ixgbeSteering(t, dir, nil)
	before := fixture.Digest(t, dir)
	e := newEngine(t, dir, nil)
	p := inlineProfile(t, steerSpec)
	ctx := context.Background()
	pr, err := e.Plan(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	out := renderPlan(pr)
	for _, want := range []string{
		`feature:rx-ntuple-filter "off" -> "on"`,
		`ntuple:0`, `"flow-type udp4 dst-ip 10.0.0.0/24 dst-port 4789 action 2 loc 0"`,
		`ntuple:7`, `ntuple:1`, `"flow-type ether dst 02:00:00:00:00:01 vlan 100 action -1 loc 1"`,
		`"sd" -> "sdfn"`,
		`"weight 2 1 1 start 1"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %s:\n%s", want, out)
		}
	}
	cmds := map[string]string{}
	for _, it := range pr.Items {
		cmds[it.Attribute] = it.Command
	}
	for attr, want := range map[string]string{
		"ntuple:0":          "ethtool -N eth0 flow-type udp4 dst-ip 10.0.0.0 m 0.0.0.255 dst-port 4789 action 2 loc 0",
		"ntuple:1":          "ethtool -N eth0 flow-type ether dst 02:00:00:00:00:01 vlan 100 m 0xf000 action -1 loc 1",
		"rx-flow-hash:udp4": "ethtool -N eth0 rx-flow-hash udp4 sdfn",
		"rss":               "ethtool -X eth0 weight 2 1 1 start 1",
	} {
		if !strings.HasSuffix(cmds[attr], ": "+want) {
			t.Errorf("%s: command %q, want %q", attr, cmds[attr], want)
		}
	}
	if strings.Index(out, "feature:rx-ntuple-filter") > strings.Index(out, "ntuple:0") {
		t.Errorf("the feature is turned on after the rules:\n%s", out)
	}
	if _, err := e.Apply(ctx, p, nil); err != nil {
		t.Fatalf("apply: %v", err)
	}
	r, _ := host.New(dir)
	eth := &ethtool.Files{Root: r}
	tbl, err := eth.Rules("eth0")
	if err != nil || len(tbl.Rules) != 3 {
		t.Fatalf("rules after apply: %+v %v", tbl, err)
	}
	if fh, _ := eth.FlowHash("eth0", "udp4"); fh != "sdfn" {
		t.Errorf("udp4 hash after apply: %q", fh)
	}
	ind, _ := eth.Indir("eth0")
	if ind[0] != 1 || ind[63] != 1 || ind[64] != 2 || ind[127] != 3 {
		t.Errorf("weights 2 1 1 from queue 1: %v", ind)
	}
	chk, err := e.Check(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := chk.Count(plan.Drift); n != 0 {
		t.Errorf("check after apply: %d drift\n%s", n, renderPlan(chk))
	}
	if _, err := e.Revert(ctx, engine.RevertOptions{}, nil); err != nil {
		t.Fatalf("revert: %v", err)
	}
	if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
		t.Errorf("tree differs after revert: %v", diffs)
	}
}

// TestNoNTupleFilters: igb on an 82576 reports ntuple-filters off
// [fixed]; a driver without set_rxnfc has no rule table at all. Both are
// refused at plan time, saying so, at the rule's file:line:col.
func TestNoNTupleFilters(t *testing.T) {
	for name, edit := range map[string]func(*ethtool.State){
		"fixed off": func(s *ethtool.State) { s.Features["rx-ntuple-filter"] = ethtool.Feature{Fixed: true} },
		"no table":  func(s *ethtool.State) { s.NTuple = nil },
		"absent":    func(s *ethtool.State) { delete(s.Features, "rx-ntuple-filter") },
	} {
		t.Run(name, func(t *testing.T) {
			dir := fixture.Unpack(t, multiFixture)
			ixgbeSteering(t, dir, edit)
			e := newEngine(t, dir, nil)
			p := inlineProfile(t, "  nics:\n    - match: {name: eth0}\n      ntuple:\n        - {flowType: udp4, dstPort: 53, queue: 1}\n")
			_, err := e.Plan(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), "this NIC has no ntuple filters") || !strings.Contains(err.Error(), "p.yaml:7:7: nics nics[0]/ntuple:") {
				t.Errorf("plan: %v\nwant 'this NIC has no ntuple filters' at p.yaml:7:7", err)
			}
		})
	}
}

// TestSteeringPlanRefusals: what the plan refuses against the host.
func TestSteeringPlanRefusals(t *testing.T) {
	for _, tc := range []struct{ name, spec, want, where string }{
		{"queue beyond the channels", "      ntuple:\n        - {flowType: udp4, dstPort: 53, queue: 4}\n", "queue 4 is beyond the 4 rx queues", "8:11"},
		{"queue beyond the planned channels", "      channels: {combined: 2}\n      ntuple:\n        - {flowType: udp4, dstPort: 53, queue: 3}\n", "queue 3 is beyond the 2 rx queues", "9:11"},
		{"location beyond the table", "      ntuple:\n        - {flowType: udp4, dstPort: 53, queue: 1, location: 1022}\n", "location 1022 is beyond the 1022-entry rule table", "8:11"},
		{"location taken", "      ntuple:\n        - {flowType: udp4, dstPort: 53, queue: 1, location: 5}\n", "location 5 of eth0 holds another rule", "8:11"},
		{"same packets on the NIC", "      ntuple:\n        - {flowType: tcp4, dstPort: 80, queue: 1}\n", "already has a rule for the same packets at location 5", "8:11"},
		{"key size", "      rss: {hashKey: \"01:02\"}\n", "rss.hashKey has 2 bytes; the key of eth0", "7:7"},
		{"no key", "      rss: {hashKey: \"01:02\"}\n", "has no RSS hash key to set", "7:7"},
		{"no flow hash", "      rss: {flowHash: {udp4: sdfn}}\n", "does not let the hash fields of udp4", "7:24"},
		{"weights beyond queues", "      rss: {weights: [1, 1], startQueue: 3}\n", "uses queue 4, beyond the 4 rx queues", "7:7"},
		{"ntuple off in features", "      features: {rx-ntuple-filter: false}\n      ntuple:\n        - {flowType: udp4, dstPort: 53, queue: 1}\n", "which the ntuple rules need", "8:7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture.Unpack(t, multiFixture)
			ixgbeSteering(t, dir, func(s *ethtool.State) {
				s.NTuple.Rules = []string{"flow-type tcp4 dst-port 80 action 0 loc 5"}
				switch tc.name {
				case "no key":
					s.RSSHash.KeySize, s.RSSHash.Key = 0, ""
				case "no flow hash":
					s.FlowHash = nil
				}
			})
			e := newEngine(t, dir, nil)
			_, err := e.Plan(context.Background(), inlineProfile(t, "  nics:\n    - match: {name: eth0}\n"+tc.spec))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "p.yaml:"+tc.where) {
				t.Errorf("plan: %v\nwant an error with %q at p.yaml:%s", err, tc.want, tc.where)
			}
		})
	}
}

// TestSteeringDriverRefuses: the driver refuses, every time (the
// rollback's writes as well), a hash function it does not have
// (EOPNOTSUPP) and hash fields it does not take (EINVAL): the apply fails
// and rolls back the changes made before it, leaving the tree as it was.
func TestSteeringDriverRefuses(t *testing.T) {
	for _, tc := range []struct{ name, rss, want string }{
		{"hash function", "hashFunction: xor", "not supported"},
		{"flow hash", "flowHash: {tcp4: sd}", "invalid argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture.Unpack(t, multiFixture)
			ixgbeSteering(t, dir, nil)
			before := fixture.Digest(t, dir)
			e := newEngine(t, dir, nil)
			p := inlineProfile(t, "  nics:\n    - match: {name: eth0}\n      txqueuelen: 5000\n      ntuple:\n        - {flowType: udp4, dstPort: 53, queue: 1}\n      rss: {weights: [1, 1], "+tc.rss+"}\n")
			_, err := e.Apply(context.Background(), p, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("apply: %v, want an error with %q", err, tc.want)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
				t.Errorf("tree differs after the rolled-back apply: %v", diffs)
			}
		})
	}
}

// normalisingWriter models a driver that answers success and keeps its
// own value: every write of eth0's state gets the old RSS key back (a
// driver with a fixed key), or the old rules (a driver that drops rules
// silently).
type normalisingWriter struct {
	host.OSWriter
	keep func(old, new *ethtool.State)
}

func (w normalisingWriter) WriteFile(path string, data []byte, perm fs.FileMode) error {
	if filepath.Base(path) == "eth0.json" {
		if old, err := ethtool.DecodeState(mustReadFile(path)); err == nil {
			if nw, err := ethtool.DecodeState(data); err == nil {
				w.keep(old, nw)
				data = nw.Encode()
			}
		}
	}
	return w.OSWriter.WriteFile(path, data, perm)
}

// TestSteeringReadBack: the driver takes the request without an error and
// keeps its own key, or drops the rule: the read-back catches it, the
// apply fails with a verify error and rolls back.
func TestSteeringReadBack(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		keep       func(old, new *ethtool.State)
	}{
		{"fixed key", "      rss: {hashKey: \"" + strings.Repeat("ab:", 39) + "ab\"}\n", func(old, nw *ethtool.State) { nw.RSSHash.Key = old.RSSHash.Key }},
		{"dropped rule", "      ntuple:\n        - {flowType: udp4, dstPort: 53, queue: 1}\n", func(old, nw *ethtool.State) { nw.NTuple.Rules = old.NTuple.Rules }},
		{"flow hash normalised", "      rss: {flowHash: {udp6: sdfn}}\n", func(old, nw *ethtool.State) { nw.FlowHash["udp6"] = old.FlowHash["udp6"] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture.Unpack(t, multiFixture)
			ixgbeSteering(t, dir, nil)
			before := fixture.Digest(t, dir)
			e := newEngine(t, dir, normalisingWriter{keep: tc.keep})
			p := inlineProfile(t, "  nics:\n    - match: {name: eth0}\n      txqueuelen: 5000\n"+tc.spec)
			_, err := e.Apply(context.Background(), p, nil)
			if err == nil || !strings.Contains(err.Error(), "reads back") && !strings.Contains(err.Error(), "has none there") {
				t.Fatalf("apply: %v, want a read-back error", err)
			}
			if diffs := fixture.DiffDigests(before, fixture.Digest(t, dir)); len(diffs) > 0 {
				t.Errorf("tree differs after the rolled-back apply: %v", diffs)
			}
		})
	}
}

func mustReadFile(p string) []byte {
	b, _ := os.ReadFile(p)
	return b
}
