package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// compileSchema compiles Schema() with a validator that asserts formats,
// the cpu-list format included.
func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: FormatCPUList, Validate: func(v any) error {
		if s, ok := v.(string); ok {
			return CheckCPUList(s)
		}
		return nil
	}})
	const url = "https://github.com/nettune/nettune/schema/profile.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSON turns a YAML document into the JSON value an editor
// validates against the schema: YAML 1.2 core types, integers of any size
// kept exact.
func yamlToJSON(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("empty document")
		}
		return yamlToJSON(n.Content[0])
	case yaml.AliasNode:
		return yamlToJSON(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := yamlToJSON(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			v, err := yamlToJSON(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		return strconv.ParseBool(strings.ToLower(n.Value))
	case "!!int":
		b, ok := parseYAMLInt(n.Value)
		if !ok {
			return nil, fmt.Errorf("bad integer %q", n.Value)
		}
		return json.Number(b.String()), nil
	case "!!float":
		if b, ok := parseYAMLInt(n.Value); ok {
			return json.Number(b.String()), nil
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			return nil, fmt.Errorf("float %q: %w", n.Value, err)
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	return n.Value, nil
}

func schemaValidate(s *jsonschema.Schema, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	v, err := yamlToJSON(&doc)
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// corpus lists pkg/profile/testdata/<dir>/*.yaml.
func corpus(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in testdata/%s: %v", dir, err)
	}
	return files
}

// corpusHeader reads a "# key: value" line at the top of a corpus file.
func corpusHeader(data []byte, key string) (string, bool) {
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		if v, ok := strings.CutPrefix(l, "# "+key+": "); ok {
			return v, true
		}
	}
	return "", false
}

// TestBadProfilesRejectedByBoth runs every profile of testdata/bad through
// the decoder (profile.Load, with the error each file names in its
// "# error:" line) and through the JSON Schema, and requires both to
// refuse it. A file whose "# schema: accepts: ..." line says why the
// schema cannot see the problem is only required to be accepted by it,
// so that the exception stays true.
func TestBadProfilesRejectedByBoth(t *testing.T) {
	s := compileSchema(t)
	for _, f := range corpus(t, "bad") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, ok := corpusHeader(data, "error")
			if !ok {
				t.Fatal("no '# error: <substring>' line")
			}
			_, err = Load(f)
			switch {
			case err == nil:
				t.Errorf("the decoder accepts it")
			case !strings.Contains(err.Error(), want):
				t.Errorf("decoder error:\n%v\nwant it to contain:\n%s", err, want)
			case !errors.Is(err, ErrInvalid):
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			serr := schemaValidate(s, data)
			if why, blind := corpusHeader(data, "schema"); blind {
				if !strings.HasPrefix(why, "accepts: ") {
					t.Fatalf("'# schema:' line must read 'accepts: <why>', got %q", why)
				}
				if serr != nil {
					t.Errorf("the schema rejects it after all, drop the '# schema:' line: %v", serr)
				}
				return
			}
			if serr == nil {
				t.Errorf("the JSON Schema accepts it")
			}
		})
	}
}

// TestGoodProfilesAcceptedByBoth: the good corpus and the shipped profiles
// pass the decoder and the JSON Schema.
func TestGoodProfilesAcceptedByBoth(t *testing.T) {
	s := compileSchema(t)
	files := corpus(t, "good")
	shipped, _ := filepath.Glob("../../profiles/*.yaml")
	if len(shipped) == 0 {
		t.Fatal("no shipped profiles")
	}
	for _, f := range append(files, shipped...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Load(f); err != nil {
				t.Errorf("the decoder rejects it: %v", err)
			}
			if err := schemaValidate(s, data); err != nil {
				t.Errorf("the JSON Schema rejects it: %v", err)
			}
		})
	}
	p, err := Load("testdata/good/sysctl-forms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]SysctlValue{
		"net.core.somaxconn":           "1024",
		"net.core.netdev_max_backlog":  "0x4000",
		"net.core.netdev_budget":       "1000",
		"net.core.rmem_max":            "16777216",
		"kernel.sched_rt_runtime_us":   "-1",
		"fs.file-max":                  "18446744073709551615",
		"net.ipv4.tcp_rmem":            "4096 87380 6291456",
		"net.ipv4.ip_local_port_range": "1024 65535",
	} {
		if got := p.Spec.Sysctl[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// FuzzSchemaAgrees: for the scalar fields whose syntax both the decoder and
// the JSON Schema check (sysctl names and values, CPU lists, sizes,
// bounded counts), a value one of them accepts the other accepts too.
func FuzzSchemaAgrees(f *testing.F) {
	for _, s := range []string{"net.core.somaxconn", "/.0/0", "a/b.c", "../../x", "4-2", "0-15:2/4", "1 G", "0x400", "true", "1e3", "4294967296", "\v2M", "\u00a01-3"} {
		f.Add(s, uint8(0))
	}
	s := compileSchema(f)
	f.Fuzz(func(t *testing.T, v string, field uint8) {
		q, err := json.Marshal(v) // a double-quoted YAML scalar
		if err != nil {
			return
		}
		var body string
		switch field % 6 {
		case 0:
			body = "  sysctl:\n    " + string(q) + ": 1\n"
		case 1:
			body = "  sysctl:\n    net.core.somaxconn: " + string(q) + "\n"
		case 2:
			if strings.ContainsAny(v, "\n\r#:{}[],&*!|>'\"%@`") || strings.TrimSpace(v) != v || v == "" {
				return // a plain scalar only
			}
			body = "  sysctl:\n    net.core.somaxconn: " + v + "\n"
		case 3:
			body = "  irqbalance:\n    bannedCPUs: " + string(q) + "\n"
		case 4:
			body = "  hugepages:\n    mounts: [{path: /mnt/huge, pageSize: " + string(q) + "}]\n"
		case 5:
			if strings.ContainsAny(v, "\n\r#:{}[],&*!|>'\"%@`") || strings.TrimSpace(v) != v || v == "" {
				return
			}
			body = "  nics:\n    - match: {name: eth1}\n      txqueuelen: " + v + "\n"
		}
		data := []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata:\n  name: f\nspec:\n" + body)
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) != nil || integralFloat(&doc) {
			return
		}
		_, derr := Parse("f.yaml", data)
		serr := schemaValidate(s, data)
		if (derr == nil) != (serr == nil) {
			t.Fatalf("disagreement on\n%s\ndecoder: %v\nschema: %v", data, derr, serr)
		}
	})
}

// integralFloat reports a YAML float with an integral value (1e3, 080):
// nettune refuses it where it wants an integer, but in JSON it is that
// integer, so the schema cannot tell (the documented exception).
func integralFloat(n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		return err == nil && f == math.Trunc(f)
	}
	for _, c := range n.Content {
		if integralFloat(c) {
			return true
		}
	}
	return false
}
