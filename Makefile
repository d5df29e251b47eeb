# imgsave: build, demo, tests, benchmarks. `make test` is what CI runs.
GO ?= go
BIN := bin/imgsave
# The platforms imgsave is built and vetted for (README, Platforms).
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

.PHONY: build release engines apptainer slurm test unit demo bench fuzz lint cross man

build:
	$(GO) build -o $(BIN) ./cmd/imgsave

# imgsave for every platform into bin/, VERSION stamped in (imgsave
# --version), with SHA256SUMS.
release:
	GO=$(GO) PLATFORMS="$(PLATFORMS)" scripts/release.sh $(VERSION)

# Install (if missing) and start Docker 20.10 (classic store) and Docker 26
# (containerd store); idempotent. Needs root.
engines:
	scripts/engines.sh

# Build and install Apptainer 1.5.3 from the shared vendor folder under
# /var/lib/imgsave-ci (about 5 minutes once; idempotent), the HPC engine.
apptainer:
	scripts/apptainer.sh

# Start a one-node SLURM cluster (slurm-wlm, munge) on this machine, for
# the job array tests; idempotent.
slurm:
	scripts/slurm.sh

# Everything: lint, unit tests, fuzz seeds, and the end-to-end scripts
# against the real engines (Docker 20.10 and 26, podman rootful and
# rootless, Apptainer), a one-node SLURM cluster, qemu-user-static for
# arm64 images, docker buildx on a Docker 26 build daemon, git-annex and the
# datalad-container adapter (installed and started here; anything missing
# fails the run, never skips).
test: lint
	eval "$$(scripts/engines.sh)" && eval "$$(scripts/datalad.sh)" && \
	eval "$$(scripts/apptainer.sh)" && eval "$$(scripts/slurm.sh)" && eval "$$(scripts/foreign.sh)" && eval "$$(scripts/cosign.sh)" && eval "$$(scripts/buildx.sh)" && \
	export IMGSAVE_ENGINES IMGSAVE_TEST_USER IMGSAVE_REGISTRY IMGSAVE_REGISTRY_TLS IMGSAVE_REGISTRY_CA IMGSAVE_REGISTRY_DATA IMGSAVE_DATALAD_ADAPTER IMGSAVE_DATALAD_PYTHONPATH IMGSAVE_APPTAINER SLURM_CONF IMGSAVE_ARM64_BUSYBOX IMGSAVE_EMULATION IMGSAVE_CRANE IMGSAVE_COSIGN IMGSAVE_COSIGN3 IMGSAVE_REGISTRY_REFERRERS IMGSAVE_BUILDX_HOST && \
	IMGSAVE_E2E=1 $(GO) test -count=1 -timeout 40m ./...

# Tests that need no engine.
unit:
	$(GO) test -count=1 . ./manifest ./archive

lint: cross
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# Every platform compiles and vets (tests included), cross-compiled with CGO
# off as release builds are: this machine runs only the Linux tests. The
# keyless verifier (cmd/imgsave-sigstore, sigstore-go) is vetted and built
# here only: type-checking sigstore-go five times took minutes of CI.
cross:
	@for p in $(PLATFORMS); do \
		pkgs=./...; [ $$p = linux/amd64 ] || pkgs=$$($(GO) list ./... | grep -v '/cmd/imgsave-sigstore\|/sigstoretest'); \
		echo "GOOS=$${p%/*} GOARCH=$${p#*/} go vet && go build ./cmd/imgsave"; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet $$pkgs && \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -o /dev/null ./cmd/imgsave || exit 1; \
	done
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/imgsave-sigstore

# The manual page and docs/cli.md, made from the command definitions
# (imgsave man); TestDocsGenerated fails while they are stale.
man:
	$(GO) run ./cmd/imgsave man >docs/imgsave.1
	$(GO) run ./cmd/imgsave man --markdown >docs/cli.md

# Build imgsave, make a tiny busybox image offline, save it, run it.
demo: build
	scripts/demo.sh

bench: build
	scripts/bench.sh
	scripts/bench-remote.sh
	scripts/bench-diff.sh
	for h in $$IMGSAVE_BENCH_ENGINES; do \
		case $$h in unix:///var/run/docker.sock) ;; unix://*|tcp://*|ssh://*) DOCKER_HOST=$$h scripts/bench-remote.sh || exit 1;; esac; \
	done

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzExtract -fuzztime=60s -fuzzminimizetime=10x ./archive
	$(GO) test -run='^$$' -fuzz=FuzzOpenDir -fuzztime=60s -fuzzminimizetime=10x ./archive
	$(GO) test -run='^$$' -fuzz=FuzzParseDocker -fuzztime=30s -fuzzminimizetime=10x ./manifest
	$(GO) test -run='^$$' -fuzz=FuzzParseIndex -fuzztime=30s -fuzzminimizetime=10x ./manifest
	$(GO) test -run='^$$' -fuzz=FuzzParsePlatform -fuzztime=30s -fuzzminimizetime=10x ./manifest
	$(GO) test -run='^$$' -fuzz=FuzzParseReference -fuzztime=30s -fuzzminimizetime=10x ./manifest
	$(GO) test -run='^$$' -fuzz=FuzzParseRecordLine -fuzztime=30s -fuzzminimizetime=10x ./archive
	$(GO) test -run='^$$' -fuzz=FuzzCheckSIF -fuzztime=30s -fuzzminimizetime=10x ./loader
	$(GO) test -run='^$$' -fuzz=FuzzAddSize -fuzztime=30s -fuzzminimizetime=10x ./loader/registry
	$(GO) test -run='^$$' -fuzz=FuzzParseSource -fuzztime=30s -fuzzminimizetime=10x .
	$(GO) test -run='^$$' -fuzz=FuzzServe -fuzztime=30s -fuzzminimizetime=10x ./loader/annex
	$(GO) test -run='^$$' -fuzz=FuzzKind -fuzztime=30s -fuzzminimizetime=10x ./loader/registry
	$(GO) test -run='^$$' -fuzz=FuzzParsePayload -fuzztime=30s -fuzzminimizetime=10x ./manifest/cosign
	$(GO) test -run='^$$' -fuzz=FuzzParseEnvelope -fuzztime=30s -fuzzminimizetime=10x ./manifest/cosign
	$(GO) test -run='^$$' -fuzz=FuzzParsePublicKey -fuzztime=30s -fuzzminimizetime=10x ./manifest/cosign
