package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/nettune/nettune/pkg/plan"
)

// TestIntentLineEveryField: every field plan.Change has is read from the
// line json.Marshal writes, with values that need escapes, in and outside
// ASCII. A field added to plan.Change and not to the reader fails here.
func TestIntentLineEveryField(t *testing.T) {
	var c plan.Change
	v := reflect.ValueOf(&c).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(fmt.Sprintf("%s \"q\" \\ <&> \t\n é\u2028 %d", v.Type().Field(i).Name, i))
		case reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("plan.Change.%s is a %s: teach intentChanges to read it", v.Type().Field(i).Name, f.Kind())
		}
	}
	plain := plan.Change{Module: "nics", Object: "ens1f0/rx-0", Attribute: "rps_cpus", Action: plan.Set, Before: "0", After: "ff", When: plan.Live}
	line := encode(record{Op: "intent", Changes: []plan.Change{c, plain, {}}})
	got, ok := intentChanges(string(line[:len(line)-1]))
	if !ok {
		t.Fatalf("not read: %s", line)
	}
	if want := []plan.Change{c, plain, {}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("read %+v\nwant %+v", got, want)
	}
}

// FuzzIntentLine: whatever intentChanges reads, encoding/json reads the
// same from the line; a line json rejects is never read.
func FuzzIntentLine(f *testing.F) {
	ch := []plan.Change{
		{Module: "nics", Object: "ens1f0/TxRx-0 (irq 201)", Attribute: "smp_affinity_list", Action: plan.Set, Before: "0-255", After: "0", When: plan.Live, Path: "/proc/irq/201/smp_affinity_list", Command: "echo 0 > '/proc/irq/201/smp_affinity_list'", Device: "0000:17:00.0"},
		{Module: "sysctl", Object: "net.core.rmem_max", Attribute: "value", Before: "212992", After: "<16M>", Undo: true, Reason: "tab\there \"quoted\" é"},
	}
	line := encode(record{Op: "intent", Changes: ch})
	f.Add(string(line[:len(line)-1]))
	f.Add(intentPrefix + `{"module":"a","undo":false,"module":"b"}]}`)
	f.Add(intentPrefix + `{"Module":"a"}]}`)
	f.Add(intentPrefix + `{"modul\u0065":"a","before":"\ud83d\ude00 \ud800"}]}`)
	f.Add(intentPrefix + `{"before":"bad \x escape"}]}`)
	f.Add(intentPrefix + "{\"before\":\"\xff\xfe\"}]}")
	f.Add(intentPrefix + `{"extra":"x"}]}`)
	f.Add(intentPrefix + `{"undo":null}]}`)
	f.Add(intentPrefix + `{},{}]} `)
	f.Add(intentPrefix + `{"module":"torn`)
	f.Add(intentPrefix + "{\"before\":\"raw\x01control\"}]}")
	f.Add(intentPrefix + "{\"before\":\"esc \\n and raw\x1f\"}]}")
	f.Add(intentPrefix + `{"before":"bad hex \u12G4"}]}`)
	f.Add(intentPrefix + "{\"before\":\"del \x7f ok\"}]}")
	f.Add(intentPrefix + "{\"before\":\"x\x02\"}]}")
	f.Fuzz(func(t *testing.T, line string) {
		got, ok := intentChanges(line)
		var rec record
		err := json.Unmarshal([]byte(line), &rec)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("read a line encoding/json rejects (%v): %q", err, line)
		}
		if rec.Op != "intent" || !reflect.DeepEqual(got, rec.Changes) {
			t.Fatalf("line %q\nread %+v\njson %+v (op %q)", line, got, rec.Changes, rec.Op)
		}
	})
}

// bigIntent is the intent line of an apply of 16 NICs of 64 queues.
func bigIntent() []byte {
	var ch []plan.Change
	for n := 0; n < 16; n++ {
		for q := 0; q < 256; q++ {
			nic := fmt.Sprintf("ens%df%d", n/2+1, n%2)
			p := fmt.Sprintf("/sys/class/net/%s/queues/rx-%d/rps_cpus", nic, q)
			ch = append(ch, plan.Change{Module: "nics", Object: fmt.Sprintf("%s/rx-%d", nic, q), Attribute: "rps_cpus", Action: plan.Set,
				Before: strings.Repeat("00000000,", 7) + "00000000", After: strings.Repeat("ffffffff,", 7) + "00000003", When: plan.Live,
				Reason: fmt.Sprintf("RPS of rx queue %d on CPUs 0-1,128-129", q), Path: p, Command: "echo ff > '" + p + "'", Device: "0000:17:00.0"})
		}
	}
	line := encode(record{Op: "intent", Changes: ch})
	return line[:len(line)-1]
}

// BenchmarkParseGeneration: a generation of 4,096 changes, as check reads
// it for orphans.
func BenchmarkParseGeneration(b *testing.B) {
	data := append(encode(record{Op: "open", Profile: "bighost-nics", Source: "nics.yaml"}), bigIntent()...)
	data = append(data, '\n')
	data = append(data, encode(record{Op: "commit"})...)
	b.SetBytes(int64(len(data)))
	text := string(data)
	for b.Loop() {
		g, err := parseGeneration(text, 1)
		if err != nil || len(g.Changes) != 4096 {
			b.Fatalf("%d changes, %v", len(g.Changes), err)
		}
	}
}
