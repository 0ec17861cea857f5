package image

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var (
	binDir             string
	buildOnce          sync.Once
	nettuneBin, fwdBin string
	buildErr           error
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "nettune-image-test-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// binaries builds nettune as make build does (static) and the forwarder
// (cgo, DPDK), once for the package's tests. A test that needs the
// forwarder skips when DPDK's development files are missing.
func binaries(t *testing.T, forwarder bool) (string, string) {
	t.Helper()
	buildOnce.Do(func() {
		nettuneBin = filepath.Join(binDir, "nettune")
		cmd := exec.Command("go", "build", "-o", nettuneBin, "../../cmd/nettune")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			nettuneBin = string(out)
			return
		}
		fwdBin = filepath.Join(binDir, "nettune-forwarder")
		if out, err := exec.Command("go", "build", "-o", fwdBin, "../../cmd/nettune-forwarder").CombinedOutput(); err != nil {
			fwdBin = "build failed: " + string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build nettune: %v\n%s", buildErr, nettuneBin)
	}
	if forwarder && strings.HasPrefix(fwdBin, "build failed") {
		t.Skipf("the forwarder does not build here (DPDK's development files?): %s", fwdBin)
	}
	return nettuneBin, fwdBin
}

func testOptions(t *testing.T) Options {
	nt, _ := binaries(t, false)
	return Options{Nettune: nt, Version: "1.2.3-test", Created: time.Unix(1700000000, 0).UTC()}
}

// shells are programs a container image could use as a shell.
var shells = []string{"/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/dash", "/usr/bin/dash", "/bin/busybox", "/usr/bin/busybox"}

// TestSlimImage builds the slim image and checks all of it: OCI media
// types, the entrypoint and command the DaemonSet relies on, the labels,
// and exactly the files it should hold: the static binary and empty
// directories, no shell, no library.
func TestSlimImage(t *testing.T) {
	spec, err := Slim(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if !slices.Equal(c.Entrypoint, []string{"/usr/sbin/nettune"}) || !slices.Equal(c.Cmd, []string{"agent", "/nettune/profile/profile.yaml"}) || cfg.OS != "linux" {
		t.Errorf("entrypoint %q cmd %q os %s", c.Entrypoint, c.Cmd, cfg.OS)
	}
	if c.Labels["org.opencontainers.image.version"] != "1.2.3-test" || c.Labels["io.nettune.image.variant"] != "slim" || c.Labels["org.opencontainers.image.source"] == "" {
		t.Errorf("labels %v", c.Labels)
	}
	if !cfg.Created.Time.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("created %v", cfg.Created)
	}
	files, err := Files(img)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/usr": "dir", "/usr/sbin": "dir", "/usr/sbin/nettune": "0755",
		"/etc": "dir", "/etc/nettune": "dir", "/etc/nettune/profiles": "dir",
		"/run": "dir", "/var": "dir", "/var/lib": "dir", "/var/lib/nettune": "dir",
		"/nettune": "dir", "/nettune/profile": "dir", "/tmp": "dir",
	}
	for p, m := range want {
		if files[p] != m {
			t.Errorf("%s: %q, want %q", p, files[p], m)
		}
	}
	for p := range files {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected %s in the slim image", p)
		}
	}
	for _, sh := range shells {
		if _, ok := files[sh]; ok {
			t.Errorf("the slim image has a shell: %s", sh)
		}
	}
}

// TestSlimRefusesDynamicBinary: a nettune built with cgo would not start
// FROM scratch.
func TestSlimRefusesDynamicBinary(t *testing.T) {
	_, err := Slim(Options{Nettune: "/usr/bin/ls", Created: time.Unix(0, 0)})
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("Slim with a dynamic binary: %v", err)
	}
}

var (
	fullOnce sync.Once
	fullSpec Spec
	fullImg  v1.Image
	fullErr  error
)

// fullImage builds the full image once for the package's tests (ldd on
// every ELF file is the slow part); it skips without the forwarder or
// DPDK's drivers.
func fullImage(t *testing.T) (Spec, v1.Image) {
	t.Helper()
	_, fwd := binaries(t, true)
	if _, err := os.Stat(PMDDir); err != nil {
		t.Skipf("no DPDK drivers: %v", err)
	}
	fullOnce.Do(func() {
		if fullSpec, fullErr = Full(testOptions(t), fwd); fullErr == nil {
			fullImg, fullErr = Build(fullSpec)
		}
	})
	if fullErr != nil {
		t.Fatal(fullErr)
	}
	return fullSpec, fullImg
}

// TestFullImage: the forwarder, the DPDK libraries it links and the
// drivers EAL loads, the dynamic loader, the host tools and their
// libraries; every library an ELF file of the image needs (DT_NEEDED) is
// in the image.
func TestFullImage(t *testing.T) {
	spec, img := fullImage(t)
	cfg, _ := img.ConfigFile()
	if cfg.Config.Labels["io.nettune.image.variant"] != "full" || !slices.Equal(cfg.Config.Entrypoint, Entrypoint) {
		t.Errorf("config %+v", cfg.Config)
	}
	files, err := Files(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append([]string{NettunePath, ForwarderPath}, HostTools...) {
		if files[p] != "0755" {
			t.Errorf("%s: %q", p, files[p])
		}
	}
	for _, p := range []string{"/usr/lib64/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/librte_eal.so.23", "/usr/lib/x86_64-linux-gnu/libc.so.6"} {
		if files[p] == "" || files[p] == "dir" {
			t.Errorf("%s: %q", p, files[p])
		}
	}
	if files["/lib64"] != "-> usr/lib64" {
		t.Errorf("/lib64: %q", files["/lib64"])
	}
	sonames := map[string]bool{}
	drivers := 0
	for p := range files {
		sonames[filepath.Base(p)] = true
		if strings.HasPrefix(p, PMDDir+"/librte_net_null") {
			drivers++
		}
	}
	if drivers == 0 {
		t.Errorf("no net_null driver under %s", PMDDir)
	}
	for _, e := range spec.Entries {
		if e.Src == "" || e.Path == NettunePath {
			continue
		}
		f, err := elf.Open(e.Src)
		if err != nil {
			t.Errorf("%s: %v", e.Path, err)
			continue
		}
		needed, _ := f.ImportedLibraries()
		f.Close()
		for _, n := range needed {
			if !sonames[n] {
				t.Errorf("%s needs %s, which is not in the image", e.Path, n)
			}
		}
	}
}

// TestWriteLayoutAndTarball writes the OCI layout and a docker-archive
// and reads both back: the same image, with its reference.
func TestWriteLayoutAndTarball(t *testing.T) {
	spec, err := Slim(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n := Named{Ref: "ghcr.io/nettune/nettune:1.2.3-test", Image: img}
	if err := WriteLayout(filepath.Join(dir, "oci"), []Named{n}); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest != want || m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != n.Ref {
		t.Errorf("index %+v, want %s", m.Manifests, want)
	}
	if err := WriteLayout(filepath.Join(dir, "oci"), []Named{n}); err == nil {
		t.Error("WriteLayout over a layout succeeded")
	}
	tar := filepath.Join(dir, "nettune.tar")
	if err := WriteTarball(tar, n); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(tar, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := back.ConfigFile()
	if !slices.Equal(cfg.Config.Entrypoint, Entrypoint) {
		t.Errorf("tarball's entrypoint %q", cfg.Config.Entrypoint)
	}
}
