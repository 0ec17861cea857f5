package dataplane

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// The forwarder runs in its own program, nettune-forwarder (package
// forwarder, the only one linking DPDK), so that nettune itself links no
// DPDK library. nettune run execs it and talks to it through pipes: the
// Config as JSON on its stdin, one Message per line on its stdout, errors
// and warnings as text on its stderr. SIGINT, SIGTERM or SIGHUP stops it; it exits 0
// after its final Message, 1 on an error.

// ForwarderProgram is the forwarder's file name.
const ForwarderProgram = "nettune-forwarder"

// ForwarderLibDir is where packages install the forwarder (make install,
// the .deb): a program run by nettune, not by the operator.
const ForwarderLibDir = "/usr/lib/nettune"

// ForwarderPackage is the Debian package that ships the forwarder and
// depends on DPDK's libraries (scripts/build-deb.sh); the nettune package
// itself needs none of DPDK and only suggests it.
const ForwarderPackage = "nettune-forwarder"

// ErrNoForwarder: the forwarder program was not found.
var ErrNoForwarder = errors.New("the dpdk forwarder " + ForwarderProgram + " is not installed")

// Message is one line of the forwarder's stdout. Exactly one field group is
// set: EALArgs before the EAL starts; Started (with Instance, Warnings and
// the first Stats: ports, links, workers) once the ports are up and the
// workers run; Stats about once a second; Final with the last Stats after
// the workers stopped.
type Message struct {
	EALArgs  []string `json:"ealArgs,omitempty"`
	Started  bool     `json:"started,omitempty"`
	Instance string   `json:"instance,omitempty"` // with Started: the EAL file prefix, which names the stats file
	Warnings []string `json:"warnings,omitempty"`
	Final    bool     `json:"final,omitempty"`
	Stats    *Stats   `json:"stats,omitempty"`
}

// ForwarderCandidates are the paths FindForwarder tries, in order: next to
// the running nettune (self), then ForwarderLibDir; after them it searches
// PATH.
func ForwarderCandidates(self string) []string {
	var c []string
	if self != "" {
		c = append(c, filepath.Join(filepath.Dir(self), ForwarderProgram))
	}
	return append(c, filepath.Join(ForwarderLibDir, ForwarderProgram))
}

// FindForwarder returns the forwarder program to run: the first of
// ForwarderCandidates(self) that is an executable file, else
// ForwarderProgram found by lookPath (exec.LookPath when nil). The error
// wraps ErrNoForwarder, names every place looked at and the package to
// install.
func FindForwarder(self string, lookPath func(string) (string, error)) (string, error) {
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	cands := ForwarderCandidates(self)
	for _, p := range cands {
		if fp, err := lookPath(p); err == nil {
			return fp, nil
		}
	}
	if fp, err := lookPath(ForwarderProgram); err == nil {
		return fp, nil
	}
	return "", fmt.Errorf("%w (looked for %s, then %s in PATH); install the package that ships it (Debian: apt-get install %s, which installs %s) or build it from the source (make build: bin/%s next to bin/nettune; make install)",
		ErrNoForwarder, strings.Join(cands, ", "), ForwarderProgram, ForwarderPackage, filepath.Join(ForwarderLibDir, ForwarderProgram), ForwarderProgram)
}

var missingLib = regexp.MustCompile(`error while loading shared libraries: (lib[^:\s]+\.so[.0-9]*)`)

// MissingLibrary returns the shared library the dynamic loader could not
// find, from a program's stderr ("error while loading shared libraries:
// librte_ethdev.so.23: cannot open shared object file"), and the Debian
// package that ships it (librte-ethdev23); empty when stderr says nothing of
// the kind.
func MissingLibrary(stderr string) (lib, pkg string) {
	m := missingLib.FindStringSubmatch(stderr)
	if m == nil {
		return "", ""
	}
	lib = m[1]
	name, ver, ok := strings.Cut(lib, ".so")
	if !ok {
		return lib, ""
	}
	ver = strings.TrimPrefix(ver, ".")
	if i := strings.IndexByte(ver, '.'); i >= 0 {
		ver = ver[:i]
	}
	pkg = strings.ToLower(strings.ReplaceAll(name, "_", "-")) + ver
	return lib, pkg
}
