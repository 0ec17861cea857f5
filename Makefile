# nettune — build, test, lint, benchmark.
GO        ?= go
BIN       ?= bin/nettune
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/nettune/nettune/internal/cli.Version=$(VERSION)
STATICCHECK_VERSION ?= v0.8.2
DEMO_ROOT ?= /tmp/nettune-demo

export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin

.PHONY: all deps build test test-short lint fmt bench bench-dataplane demo clean schema

all: build

## deps: install the system packages and Go modules nettune needs (Debian, as root)
deps:
	./scripts/deps.sh

## build: build bin/nettune
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/nettune

## test: the whole suite, including privileged tests on the real kernel when run as root
test:
	$(GO) test -count=1 ./...

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

clean:
	rm -rf bin
