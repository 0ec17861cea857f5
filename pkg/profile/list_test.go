package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadFromEtcDir: a name is looked up in the operator's directory
// before the shipped profiles; one there that extends its own name
// extends the shipped one; a file path is still a file path.
func TestLoadFromEtcDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "edge.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: edge}\nextends: base.yaml\nspec:\n  sysctl: {net.core.somaxconn: 512}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "base.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: base}\nspec:\n  sysctl: {vm.swappiness: 1}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "safe-default.yaml"), []byte("apiVersion: nettune/v1\nkind: Profile\nmetadata: {name: local-safe}\nextends: safe-default\nspec:\n  sysctl: {net.core.somaxconn: 4096}\n"), 0o644)

	p, err := loadFrom("edge", dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Source != filepath.Join(dir, "edge.yaml") || p.Spec.Sysctl["vm.swappiness"] != "1" || p.Spec.Sysctl["net.core.somaxconn"] != "512" {
		t.Errorf("edge = %s %v", p.Source, p.Spec.Sysctl)
	}
	p, err = loadFrom("safe-default", dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Name != "local-safe" || p.Spec.Sysctl["net.core.somaxconn"] != "4096" || p.Spec.Sysctl["net.core.netdev_max_backlog"] == "" {
		t.Errorf("safe-default from the directory = %s %v", p.Metadata.Name, p.Spec.Sysctl)
	}
	if p, err := loadFrom("kernel-throughput", dir); err != nil || p.Source != "shipped:kernel-throughput" {
		t.Errorf("shipped name: %v %v", p, err)
	}
	if _, err := loadFrom("nope", dir); err == nil || !strings.Contains(err.Error(), "not in "+dir) {
		t.Errorf("unknown name: %v", err)
	}
	b, err := flattenFrom("edge", dir)
	if err != nil || strings.Contains(string(b), "extends") || !strings.Contains(string(b), "vm.swappiness: 1") {
		t.Errorf("flatten edge: %v\n%s", err, b)
	}
	if EtcDir != "/etc/nettune/profiles" {
		t.Errorf("EtcDir = %s", EtcDir)
	}
}
