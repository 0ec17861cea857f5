package image

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Build options common to both variants.
type Options struct {
	// Nettune is the static nettune binary (CGO_ENABLED=0).
	Nettune string
	// Version labels the image.
	Version string
	// Created stamps the image and its files.
	Created time.Time
}

// HostTools are the programs nettune runs on the host that the full image
// carries, with their libraries: systemctl and udevadm (irqbalance, the
// units of 'nettune install'; they talk to the host's systemd and udev over
// the host's /run), mount and umount (hugetlbfs mounts).
var HostTools = []string{"/usr/bin/systemctl", "/usr/bin/udevadm", "/usr/bin/mount", "/usr/bin/umount"}

// PMDGlob selects the DPDK drivers the full image carries from the
// driver directory EAL loads at start: buses, mempools, NICs and their
// common code.
var PMDGlob = []string{"librte_bus_*", "librte_mempool_*", "librte_net_*", "librte_common_*"}

// PMDDir is Debian's DPDK driver directory (RTE_EAL_PMD_PATH).
const PMDDir = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"

func baseEntries(o Options) ([]Entry, error) {
	if err := requireStatic(o.Nettune); err != nil {
		return nil, err
	}
	return []Entry{
		{Path: NettunePath, Mode: 0o755, Src: o.Nettune},
		// Mount points and the few directories nettune expects; in the
		// pod /etc, /run, /var/lib/nettune are the host's.
		{Path: "/etc/nettune/profiles", Mode: fs.ModeDir | 0o755},
		{Path: "/run", Mode: fs.ModeDir | 0o755},
		{Path: "/var/lib/nettune", Mode: fs.ModeDir | 0o755},
		{Path: ProfileDir, Mode: fs.ModeDir | 0o755},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
	}, nil
}

func labels(o Options, variant, desc string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "nettune-" + variant,
		"org.opencontainers.image.description": desc,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.source":      "https://github.com/nettune/nettune",
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
		"io.nettune.image.variant":             variant,
	}
}

// Entrypoint and Cmd of both images: the DaemonSet's agent on the profile
// mounted from the ConfigMap.
var (
	Entrypoint = []string{NettunePath}
	Cmd        = []string{"agent", ProfileDir + "/profile.yaml"}
)

// Slim is the static nettune binary FROM scratch.
func Slim(o Options) (Spec, error) {
	ents, err := baseEntries(o)
	if err != nil {
		return Spec{}, err
	}
	return Spec{
		Entries: ents, Entrypoint: Entrypoint, Cmd: Cmd, Created: o.Created,
		Env:    []string{"PATH=/usr/sbin:/usr/bin"},
		Labels: labels(o, "slim", "nettune's static binary alone: the Kubernetes agent for profiles that run no host program (sysctls, NICs, IRQs)"),
	}, nil
}

// Full adds the forwarder, DPDK's drivers and the host tools, each with the
// shared libraries it needs on this (the build) host, in a merged-/usr
// tree.
func Full(o Options, forwarder string) (Spec, error) {
	ents, err := baseEntries(o)
	if err != nil {
		return Spec{}, err
	}
	for _, l := range []struct{ link, to string }{{"/bin", "usr/bin"}, {"/sbin", "usr/sbin"}, {"/lib", "usr/lib"}, {"/lib64", "usr/lib64"}} {
		ents = append(ents, Entry{Path: l.link, Mode: fs.ModeSymlink | 0o777, Link: l.to})
	}
	ents = append(ents, Entry{Path: ForwarderPath, Mode: 0o755, Src: forwarder})
	elfs := []string{forwarder}
	for _, t := range HostTools {
		ents = append(ents, Entry{Path: t, Mode: 0o755, Src: t})
		elfs = append(elfs, t)
	}
	pmds, err := driverEntries()
	if err != nil {
		return Spec{}, err
	}
	for _, e := range pmds {
		ents = append(ents, e)
		if e.Src != "" {
			elfs = append(elfs, e.Src)
		}
	}
	libs, err := Libraries(elfs...)
	if err != nil {
		return Spec{}, err
	}
	return Spec{
		Entries: append(ents, libs...), Entrypoint: Entrypoint, Cmd: Cmd, Created: o.Created,
		Env:    []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		Labels: labels(o, "full", "nettune with the DPDK forwarder, DPDK's libraries and drivers, systemctl, udevadm and mount"),
	}, nil
}

// driverEntries copies the selected drivers of PMDDir: the directory's
// symlinks as they are and the files they lead to.
func driverEntries() ([]Entry, error) {
	var out []Entry
	seen := map[string]bool{}
	for _, g := range PMDGlob {
		matches, err := filepath.Glob(filepath.Join(PMDDir, g))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			if seen[m] {
				continue
			}
			seen[m] = true
			target, err := os.Readlink(m)
			if err != nil {
				out = append(out, Entry{Path: m, Mode: 0o644, Src: m})
				continue
			}
			out = append(out, Entry{Path: m, Mode: fs.ModeSymlink | 0o777, Link: target})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no DPDK driver in %s (install Debian's dpdk package)", PMDDir)
	}
	// The files the symlinks lead to.
	for _, e := range out {
		if e.Link == "" {
			continue
		}
		real, err := filepath.EvalSymlinks(e.Path)
		if err != nil {
			return nil, fmt.Errorf("DPDK driver %s: %w", e.Path, err)
		}
		if !seen[real] {
			seen[real] = true
			out = append(out, Entry{Path: imagePath(real), Mode: 0o644, Src: real})
		}
	}
	return out, nil
}

// imagePath is where a host file goes in a merged-/usr image: its
// directory resolved (/lib64 -> /usr/lib64), its name kept (a soname).
func imagePath(p string) string {
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(dir, filepath.Base(p))
	}
	return p
}

// Libraries lists the shared libraries (and the dynamic loader) that the
// ELF files need, as ldd resolves them on this host: each as a regular
// file at its soname's path in the image.
func Libraries(files ...string) ([]Entry, error) {
	seen := map[string]bool{}
	var out []Entry
	for _, f := range files {
		cmd := exec.Command("ldd", f)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("ldd %s: %v: %s", f, err, strings.TrimSpace(stderr.String()))
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			lib, err := lddLine(sc.Text())
			if err != nil {
				return nil, fmt.Errorf("ldd %s: %w", f, err)
			}
			if lib == "" {
				continue
			}
			p := imagePath(lib)
			if seen[p] {
				continue
			}
			seen[p] = true
			real, err := filepath.EvalSymlinks(lib)
			if err != nil {
				return nil, err
			}
			out = append(out, Entry{Path: p, Mode: 0o755, Src: real})
		}
	}
	return out, nil
}

// lddLine returns the library path of one line of ldd's output, "" for the
// vDSO and for lines that name no file.
func lddLine(l string) (string, error) {
	l = strings.TrimSpace(l)
	if strings.Contains(l, "not found") {
		return "", fmt.Errorf("library %s", l)
	}
	if _, after, ok := strings.Cut(l, "=>"); ok {
		l = strings.TrimSpace(after)
	}
	f := strings.Fields(l)
	if len(f) == 0 || !strings.HasPrefix(f[0], "/") {
		return "", nil
	}
	return f[0], nil
}

// requireStatic refuses a nettune binary that needs a dynamic loader: the
// slim image has none (build with CGO_ENABLED=0, as make build does).
func requireStatic(file string) error {
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("nettune binary %s: %w", file, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("nettune binary %s is dynamically linked: build it with CGO_ENABLED=0 (make build)", file)
		}
	}
	return nil
}
