// Package image builds nettune's container images without a container
// daemon or a base image from a registry (github.com/google/go-containerregistry):
// one layer FROM scratch holding the files of a Spec, written as an OCI
// image layout and as docker-archive tarballs (docker load, podman load,
// ctr images import, kind load image-archive).
//
// Two variants: slim (the static nettune binary and nothing else: no shell,
// no libc) and full (nettune, the DPDK forwarder, the DPDK libraries and
// the host programs nettune runs, each with the shared libraries ldd lists
// on the build host).
package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths in the images. The forwarder is where 'nettune run' looks for it
// in an installed system (Makefile FWDDIR).
const (
	NettunePath   = "/usr/sbin/nettune"
	ForwarderPath = "/usr/lib/nettune/nettune-forwarder"
	// ProfileDir is where the DaemonSet mounts the profile's ConfigMap.
	ProfileDir = "/nettune/profile"
)

// Entry is a file, directory or symlink of the image.
type Entry struct {
	// Path is absolute, in the image.
	Path string
	// Mode holds the permission bits and fs.ModeDir or fs.ModeSymlink.
	Mode fs.FileMode
	// Src is the host file whose content a regular file gets.
	Src string
	// Link is a symlink's target.
	Link string
}

// Spec describes an image.
type Spec struct {
	Entries    []Entry
	Entrypoint []string
	Cmd        []string
	Env        []string
	Labels     map[string]string
	// Created is the image's and every file's time (reproducible builds
	// pass SOURCE_DATE_EPOCH).
	Created time.Time
}

// Build makes the one-layer OCI image of s.
func Build(s Spec) (v1.Image, error) {
	data, err := layerTar(s)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = runtime.GOARCH, "linux"
	cfg.Created = v1.Time{Time: s.Created}
	cfg.Config.Entrypoint = s.Entrypoint
	cfg.Config.Cmd = s.Cmd
	cfg.Config.Env = s.Env
	cfg.Config.Labels = s.Labels
	cfg.Config.WorkingDir = "/"
	cfg.Config.User = "0:0"
	return mutate.ConfigFile(img, cfg)
}

// layerTar is the layer's tar: every entry with its parent directories,
// sorted, owned by root, stamped s.Created.
func layerTar(s Spec) ([]byte, error) {
	entries := map[string]Entry{}
	for _, e := range s.Entries {
		if !path.IsAbs(e.Path) {
			return nil, fmt.Errorf("image path %q is not absolute", e.Path)
		}
		p := path.Clean(e.Path)
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = Entry{Path: d, Mode: fs.ModeDir | 0o755}
			}
		}
		if prev, ok := entries[p]; ok && prev.Mode.IsDir() != e.Mode.IsDir() {
			return nil, fmt.Errorf("image path %s given twice", p)
		}
		e.Path = p
		entries[p] = e
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		e := entries[p]
		h := &tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: int64(e.Mode.Perm()), ModTime: s.Created, Format: tar.FormatPAX}
		if e.Mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		var content []byte
		switch {
		case e.Mode.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case e.Mode&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.Link
		default:
			b, err := os.ReadFile(e.Src)
			if err != nil {
				return nil, fmt.Errorf("image file %s: %w", p, err)
			}
			h.Typeflag, h.Size, content = tar.TypeReg, int64(len(b)), b
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Named is an image with its reference (repository:tag).
type Named struct {
	Ref   string
	Image v1.Image
}

// WriteLayout writes the images as an OCI image layout in dir, which must
// not exist or be empty; each manifest is annotated with its reference.
func WriteLayout(dir string, images []Named) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("OCI layout %s: the directory is not empty", dir)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, n := range images {
		if err := p.AppendImage(n.Image, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": n.Ref,
		})); err != nil {
			return fmt.Errorf("OCI layout %s: %s: %w", dir, n.Ref, err)
		}
	}
	return nil
}

// WriteTarball writes n as a docker-archive tarball at file.
func WriteTarball(file string, n Named) error {
	tag, err := name.NewTag(n.Ref)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(file, tag, n.Image)
}

// Files lists the regular files and symlinks of img's filesystem with
// their modes (symlinks: the mode and "-> target" in the map's value).
func Files(img v1.Image) (map[string]string, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		p := "/" + strings.TrimSuffix(h.Name, "/")
		switch h.Typeflag {
		case tar.TypeReg:
			out[p] = fmt.Sprintf("%04o", h.Mode)
		case tar.TypeSymlink:
			out[p] = "-> " + h.Linkname
		case tar.TypeDir:
			out[p] = "dir"
		}
	}
}
