# nettune — build, test, lint, benchmark.
GO        ?= go
BIN       ?= bin/nettune
FWD_BIN   ?= $(dir $(BIN))nettune-forwarder
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/nettune/nettune/internal/cli.Version=$(VERSION)
STATICCHECK_VERSION ?= v0.8.2
DEMO_ROOT ?= /tmp/nettune-demo

export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin

.PHONY: all deps build test test-short lint fmt bench bench-bighost bench-dataplane demo clean schema gendocs install uninstall deb deb-test

# make install: where the files go (docs/packaging.md). DESTDIR is a staging
# root prepended to every path; units and the udev rule go where systemd and
# udev look for a package's files, whatever PREFIX says.
PREFIX         ?= /usr
DESTDIR        ?=
SBINDIR        ?= $(PREFIX)/sbin
DATADIR        ?= $(PREFIX)/share
MANDIR         ?= $(DATADIR)/man
BASHCOMPDIR    ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR     ?= $(DATADIR)/zsh/vendor-completions
FISHCOMPDIR    ?= $(DATADIR)/fish/vendor_completions.d
PROFILEDIR     ?= $(DATADIR)/nettune/profiles
SYSTEMDUNITDIR ?= /lib/systemd/system
UDEVRULESDIR   ?= /lib/udev/rules.d
# The forwarder goes where nettune run looks for it (after the directory of
# the nettune binary), whatever PREFIX says: a program for nettune, not for
# the operator's PATH.
FWDDIR         ?= /usr/lib/nettune
GENDIR         ?= bin/gen

all: build

## deps: install the system packages and Go modules nettune needs (Debian, as root)
deps:
	./scripts/deps.sh

## build: bin/nettune without cgo (links no DPDK library) and bin/nettune-forwarder, the DPDK forwarder nettune run execs (cgo, pkg-config libdpdk)
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/nettune
	$(GO) build -o $(FWD_BIN) ./cmd/nettune-forwarder

## test: the whole suite, including privileged tests on the real kernel when run as root, after test-race
test: test-race
	$(GO) test -count=1 ./...

## test-race: go test -race on the packages whose code starts goroutines or uses package sync (docs/testing.md)
# The list is computed, so a package that starts its first goroutine joins it.
# internal/cli runs only the tests of the commands that start goroutines
# (exporter, run's supervision, check with its diagnostics beside the plan):
# the whole package takes minutes under -race.
RACE_RE   := ^[[:space:]]*go (func|[A-Za-z_][A-Za-z0-9_.]*[(])|^[[:space:]]*(import )?"sync"$$
RACE_PKGS  = $(shell grep -rlE --include='*.go' --exclude='*_test.go' '$(RACE_RE)' pkg internal cmd | grep -v /testdata/ | xargs -r -n1 dirname | sort -u | sed 's|^|./|')
RACE_SKIP  = ./internal/cli
RACE_CLI_TESTS = Exporter|Supervise|Agent|Check|RoundTripOnFixture
.PHONY: test-race
test-race:
	$(GO) test -race -count=1 $(filter-out $(RACE_SKIP),$(RACE_PKGS))
	$(GO) test -race -count=1 -run '$(RACE_CLI_TESTS)' ./internal/cli

## test-short: unit tests only
test-short:
	$(GO) test -short -count=1 ./...

## lint: go vet, gofmt and staticcheck
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## bench: Go benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-bighost: wall time and peak RSS of check, plan and irqs on generated 256-CPU hosts (16 NICs x 64 and x 256 queues) and of devices vs dpdk-devbind.py (RUNS, BASE; docs/performance.md)
bench-bighost:
	./scripts/bench-bighost.sh $(RUNS)

## bench-kernel-vs-bypass: the kernel's IPv4 forwarding against the forwarder on AF_PACKET and AF_XDP over veths in namespaces, with the generator's ceiling and net_null as bounds (root; ROUNDS, DURATION; docs/kernel-vs-bypass.md)
.PHONY: bench-kernel-vs-bypass
bench-kernel-vs-bypass:
	./scripts/bench-kernel-vs-bypass.sh

## bench-dataplane: nettune's forwarder against dpdk-testpmd on the same vdevs and cores (ROUNDS, DURATION; see the script)
bench-dataplane:
	./scripts/bench-dataplane.sh $(SCENARIOS)

## schema: regenerate schema/profile.schema.json from the profile types
schema:
	$(GO) test ./pkg/profile -run "TestSchemaUpToDate|TestReferenceUpToDate" -update

## demo: plan, apply, check and revert the safe built-in default against a snapshot of this host (never the live host), then run the forwarder on two net_null ports for 5s
demo: build
	rm -rf $(DEMO_ROOT)
	$(BIN) snapshot $(DEMO_ROOT)
	$(BIN) validate --root $(DEMO_ROOT) safe-default
	$(BIN) plan --root $(DEMO_ROOT) safe-default
	$(BIN) apply --root $(DEMO_ROOT) --yes safe-default
	$(BIN) check --interval 0 --root $(DEMO_ROOT) safe-default
	$(BIN) revert --root $(DEMO_ROOT) --yes
	$(BIN) check --interval 0 --root $(DEMO_ROOT) safe-default; test $$? -eq 2
	@echo "demo: the snapshot in $(DEMO_ROOT) went through plan, apply, check and revert"
	$(BIN) run --duration 5s null-forwarder
	@echo "demo: the forwarder ran for 5s between two net_null ports on CPU 1"

## fuzz: run every fuzz target (func Fuzz* in a tracked _test.go) for FUZZTIME each, one worker, stopping at the first crash (docs/testing.md)
FUZZTIME ?= 10m
.PHONY: fuzz
fuzz:
	@set -e; for f in $$(git grep -l '^func Fuzz' -- '*_test.go'); do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz: $$t in ./$$(dirname $$f) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -parallel=1 ./$$(dirname $$f); \
		done; \
	done

## e2e-vm: real-kernel end-to-end tests in QEMU guests with emulated NICs and IOMMU (root; docs/e2e-vm.md)
.PHONY: e2e-vm
e2e-vm: build
	NETTUNE_BIN=$(BIN) ./test/vm/run.sh

## gendocs: man pages (section 8), completion scripts, systemd units and udev rule for the package, in $(GENDIR)
gendocs:
	rm -rf $(GENDIR)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(GENDIR)/nettune-gendocs ./cmd/nettune-gendocs
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)} \
		$(GENDIR)/nettune-gendocs -man $(GENDIR)/man8 -completions $(GENDIR)/completions \
		-systemd $(GENDIR)/systemd -binary $(SBINDIR)/nettune

## install: nettune, the forwarder (in $(FWDDIR)), man pages, completions, shipped profiles, systemd units and udev rule under $(DESTDIR)$(PREFIX) (PREFIX=/usr, DESTDIR=staging root)
install: build gendocs
	install -D -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/nettune
	install -D -m 0755 $(FWD_BIN) $(DESTDIR)$(FWDDIR)/nettune-forwarder
	install -d $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(GENDIR)/man8/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -D -m 0644 $(GENDIR)/completions/nettune.bash $(DESTDIR)$(BASHCOMPDIR)/nettune
	install -D -m 0644 $(GENDIR)/completions/_nettune $(DESTDIR)$(ZSHCOMPDIR)/_nettune
	install -D -m 0644 $(GENDIR)/completions/nettune.fish $(DESTDIR)$(FISHCOMPDIR)/nettune.fish
	install -d $(DESTDIR)$(PROFILEDIR)
	install -m 0644 profiles/*.yaml $(DESTDIR)$(PROFILEDIR)/
	install -D -m 0644 $(GENDIR)/systemd/nettune-apply.service $(DESTDIR)$(SYSTEMDUNITDIR)/nettune-apply.service
	install -D -m 0644 $(GENDIR)/systemd/nettune-nic@.service $(DESTDIR)$(SYSTEMDUNITDIR)/nettune-nic@.service
	install -D -m 0644 $(GENDIR)/systemd/90-nettune.rules $(DESTDIR)$(UDEVRULESDIR)/90-nettune.rules

## uninstall: remove what make install installed (same PREFIX and DESTDIR)
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/nettune $(DESTDIR)$(MANDIR)/man8/nettune.8 $(DESTDIR)$(MANDIR)/man8/nettune-*.8 \
		$(DESTDIR)$(BASHCOMPDIR)/nettune $(DESTDIR)$(ZSHCOMPDIR)/_nettune $(DESTDIR)$(FISHCOMPDIR)/nettune.fish \
		$(DESTDIR)$(SYSTEMDUNITDIR)/nettune-apply.service $(DESTDIR)$(SYSTEMDUNITDIR)/nettune-nic@.service \
		$(DESTDIR)$(UDEVRULESDIR)/90-nettune.rules
	rm -rf $(DESTDIR)$(DATADIR)/nettune $(DESTDIR)$(FWDDIR)

## image: container images without a container daemon (internal/image): dist/image/oci (OCI layout) and dist/image/nettune.tar, nettune-full.tar (docker-archive): the static nettune FROM scratch, and the full one with the forwarder, DPDK and the host tools (docs/kubernetes.md)
.PHONY: image
image: build
	$(GO) run ./internal/image/build -nettune $(BIN) -forwarder $(FWD_BIN) -version $(VERSION) -out dist/image

## deb: dist/nettune_VERSION_ARCH.deb (no DPDK) and dist/nettune-forwarder_VERSION_ARCH.deb (the forwarder, Depends on DPDK's libraries) from make install (dpkg-deb; docs/packaging.md)
deb:
	./scripts/build-deb.sh

## deb-test: build both .debs; install nettune alone, then the forwarder; use, remove and purge them on this host, checking nothing is left (root)
deb-test:
	./test/deb/test.sh

clean:
	rm -rf bin dist
