package profile

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	schemaFile    = "../../schema/profile.schema.json"
	referenceFile = "../../docs/profile-fields.md"
)

// TestReferenceUpToDate keeps docs/profile-fields.md in step with the types.
func TestReferenceUpToDate(t *testing.T) {
	got := []byte(Reference())
	if *update {
		if err := os.WriteFile(referenceFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run 'make schema'", referenceFile)
	}
}

// TestSchemaUpToDate keeps schema/profile.schema.json in step with the
// types (make schema rewrites it).
func TestSchemaUpToDate(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run 'make schema'", schemaFile)
	}
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	spec := doc["properties"].(map[string]any)["spec"].(map[string]any)["properties"].(map[string]any)
	for _, section := range []string{"sysctl", "cpu", "hugepages", "nics", "irqbalance", "devices", "dataplane"} {
		if _, ok := spec[section]; !ok {
			t.Errorf("schema lacks spec.%s", section)
		}
	}
}
