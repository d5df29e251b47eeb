# imgsave: build, demo, tests, benchmarks. `make test` is what CI runs.
GO ?= go
BIN := bin/imgsave

.PHONY: build engines test unit demo bench fuzz lint

build:
	$(GO) build -o $(BIN) ./cmd/imgsave

# Install (if missing) and start Docker 20.10 (classic store) and Docker 26
# (containerd store); idempotent. Needs root.
engines:
	scripts/engines.sh

# Everything: lint, unit tests, fuzz seeds, and the end-to-end scripts
# against both real engines, git-annex and the datalad-container adapter
# (installed and started here; anything missing fails the run, never skips).
test: lint
	eval "$$(scripts/engines.sh)" && eval "$$(scripts/datalad.sh)" && \
	export IMGSAVE_ENGINES IMGSAVE_TEST_USER IMGSAVE_REGISTRY IMGSAVE_REGISTRY_TLS IMGSAVE_REGISTRY_CA IMGSAVE_REGISTRY_DATA IMGSAVE_DATALAD_ADAPTER IMGSAVE_DATALAD_PYTHONPATH && \
	IMGSAVE_E2E=1 $(GO) test -count=1 -timeout 40m ./...

# Tests that need no engine.
unit:
	$(GO) test -count=1 . ./manifest ./archive

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# Build imgsave, make a tiny busybox image offline, save it, run it.
demo: build
	scripts/demo.sh

bench: build
	scripts/bench.sh
	scripts/bench-remote.sh

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzExtract -fuzztime=60s -fuzzminimizetime=10x ./archive
	$(GO) test -run='^$$' -fuzz=FuzzOpenDir -fuzztime=60s -fuzzminimizetime=10x ./archive
	$(GO) test -run='^$$' -fuzz=FuzzParseDocker -fuzztime=30s -fuzzminimizetime=10x ./manifest
	$(GO) test -run='^$$' -fuzz=FuzzParseIndex -fuzztime=30s -fuzzminimizetime=10x ./manifest
	$(GO) test -run='^$$' -fuzz=FuzzParseSource -fuzztime=30s -fuzzminimizetime=10x .
	$(GO) test -run='^$$' -fuzz=FuzzServe -fuzztime=30s -fuzzminimizetime=10x ./loader/annex
