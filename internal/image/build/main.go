// Command build writes nettune's container images without a container
// daemon (make image): an OCI image layout holding the slim and the full
// variant, and a docker-archive tarball of each (docs/kubernetes.md).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nettune/nettune/internal/image"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image: "+err.Error())
		os.Exit(1)
	}
}

func run() error {
	var (
		o         image.Options
		forwarder = flag.String("forwarder", "bin/nettune-forwarder", "the DPDK forwarder for the full image")
		out       = flag.String("out", "dist/image", "output directory: oci/ (OCI layout), nettune.tar and nettune-full.tar")
		repo      = flag.String("repo", "ghcr.io/nettune", "repository prefix of the image references")
	)
	flag.StringVar(&o.Nettune, "nettune", "bin/nettune", "the static nettune binary (CGO_ENABLED=0)")
	flag.StringVar(&o.Version, "version", "dev", "image version (label and tag)")
	flag.Parse()
	o.Created = time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", s, err)
		}
		o.Created = time.Unix(n, 0).UTC()
	}
	slim, err := image.Slim(o)
	if err != nil {
		return err
	}
	full, err := image.Full(o, *forwarder)
	if err != nil {
		return err
	}
	var named []image.Named
	for _, v := range []struct {
		name string
		spec image.Spec
	}{{"nettune", slim}, {"nettune-full", full}} {
		img, err := image.Build(v.spec)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		named = append(named, image.Named{Ref: *repo + "/" + v.name + ":" + o.Version, Image: img})
	}
	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	if err := image.WriteLayout(filepath.Join(*out, "oci"), named); err != nil {
		return err
	}
	for i, n := range named {
		file := filepath.Join(*out, []string{"nettune.tar", "nettune-full.tar"}[i])
		if err := image.WriteTarball(file, n); err != nil {
			return err
		}
		d, _ := n.Image.Digest()
		st, _ := os.Stat(file)
		fmt.Printf("%s %s (%d MB) %s\n", n.Ref, d, st.Size()>>20, file)
	}
	fmt.Printf("OCI layout: %s\n", filepath.Join(*out, "oci"))
	return nil
}
