package pmqos_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/nettune/nettune/pkg/host"
	"github.com/nettune/nettune/pkg/pmqos"
)

func root(t *testing.T, content []byte, mode os.FileMode) *host.Root {
	t.Helper()
	dir := t.TempDir()
	if content != nil {
		if err := os.MkdirAll(filepath.Join(dir, "dev"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "dev/cpu_dma_latency"), content, mode); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func le(v int32) []byte {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(v))
	return b[:]
}

// TestHoldFixture: on a plain file the write lands at offset 0 and reads
// back as the request.
func TestHoldFixture(t *testing.T) {
	r := root(t, le(pmqos.Default), 0o600)
	h, err := pmqos.Hold(r, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if v, err := pmqos.Read(r); err != nil || v != 20 {
		t.Errorf("read %d %v", v, err)
	}
}

// TestHoldRefused: no device (a container without it) and a device that
// refuses every write are errors; nothing is created.
func TestHoldRefused(t *testing.T) {
	r := root(t, nil, 0)
	if _, err := pmqos.Hold(r, 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing device: %v", err)
	}
	if r.Exists(r.Dev("cpu_dma_latency")) {
		t.Error("Hold created the device file")
	}
	if os.Geteuid() != 0 { // root writes through a read-only mode
		r = root(t, le(pmqos.Default), 0o400)
		if _, err := pmqos.Hold(r, 0); !errors.Is(err, syscall.EACCES) {
			t.Errorf("read-only device: %v", err)
		}
	}
	if _, err := pmqos.Hold(r, -1); err == nil {
		t.Error("negative latency accepted")
	}
}

// TestPrivilegedHold holds a request on the real device while the holder
// lives: the kernel reports it, and after Close the request is gone.
func TestPrivilegedHold(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	r, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	before, err := pmqos.Read(r)
	if err != nil {
		t.Skipf("no %s: %v", pmqos.Device, err)
	}
	// 100 us rather than 0: a shared VM's vCPUs keep halting.
	const want = 100
	if before <= want {
		t.Skipf("another process already holds %d us", before)
	}
	h, err := pmqos.Hold(r, want)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if got, _ := pmqos.Read(r); got != want {
		t.Errorf("while held: %d, want %d", got, want)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := pmqos.Read(r); got != before {
		t.Errorf("after close: %d, want %d", got, before)
	}
	t.Logf("held %d us (was %d), released", want, before)
}

func FuzzParse(f *testing.F) {
	f.Add(le(0))
	f.Add(le(pmqos.Default))
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := pmqos.Parse(bytes.NewReader(b))
		if len(b) >= 4 && (err != nil || v != int32(binary.NativeEndian.Uint32(b))) {
			t.Errorf("%x: %d %v", b, v, err)
		}
	})
}
