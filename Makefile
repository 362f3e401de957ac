# mlgit — build, test, benchmark, demo.
GO       ?= go
BIN      ?= bin/mlgit
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# Google's storage client (linked by mlgit-blob-cloud, which serves gs://
# stores) links gRPC's DirectPath modules by default, which mlgit (JSON API
# only) never uses; without them the program starts faster and is 20 MB
# smaller.
TAGS     ?= disable_grpc_modules
PKGS     := ./...
GOBIN    := $(shell $(GO) env GOPATH)/bin

.PHONY: all ui-assets build install test test-short bench bench-sync bench-server bench-ui bench-blob bench-history lint golangci-lint fuzz fault demo clean

all: build

# The web UI's third-party browser assets (uPlot), pinned in
# server/ui/package-lock.json, copied where the binary embeds them. A build
# without them still serves every page, without charts.
UI_VENDOR := server/ui/static/vendor/uPlot.iife.min.js
ui-assets: $(UI_VENDOR)
$(UI_VENDOR): server/ui/package.json server/ui/package-lock.json
	./scripts/ui-assets.sh

# mlgit, and next to it mlgit-blob-cloud, the program that serves gs:// and
# az:// blob stores (it links the cloud clients, so mlgit does not).
build: ui-assets
	$(GO) build -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mlgit
	$(GO) build -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(dir $(BIN))mlgit-blob-cloud ./cmd/mlgit-blob-cloud

install: ui-assets
	$(GO) install -tags "$(TAGS)" -ldflags "$(LDFLAGS)" ./cmd/mlgit ./cmd/mlgit-blob-cloud

# The full suite. Test servers that are built with Go (versitygw for the S3
# tests) are installed on first use and cached in $(GOBIN); tests that need a
# Debian package (git-lfs, chromium) say so when it is missing, and .ci/run
# installs those packages.
test: ui-assets
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 15m $(PKGS)

test-short: ui-assets
	$(GO) test -short -count=1 $(PKGS)

# Benchmarks whose figures are recorded in docs/PERFORMANCE.md.
bench: build
	$(GO) test -run '^$$' -bench 'LogBatchJournal|CheckpointOneRun' -benchtime 30x -count 5 ./repo/
	MLGIT_BIN=$(abspath $(BIN)) $(GO) test -run '^$$' -bench 'BenchmarkRegistry' -benchtime 30x -count 3 ./repo/
	$(GO) test -run '^$$' -bench . -benchmem ./diff/ ./manifest/ ./query/
	$(GO) test -run '^$$' -bench 'ImportFileStore|ImportFromServer' -benchtime 1x -count 3 -timeout 30m ./mlflowimport/
	MLGIT=$(abspath $(BIN)) ./scripts/bench.sh
	MLGIT=$(abspath $(BIN)) ./scripts/bench-sync.sh

# Sharing: push/pull of one run against a 100,000-run remote, four clones
# pushing concurrently, pushes per minute one bare remote takes over a path
# and over sshd (MLGIT_BENCH_SYNC_PART=push-rate runs only that), and full
# against partial clones of a remote of 1,000 runs x 10 metrics x 1,000
# steps (clone, first and second run list, run metrics).
bench-sync: build
	MLGIT=$(abspath $(BIN)) ./scripts/bench-sync.sh
	MLGIT=$(abspath $(BIN)) ./scripts/bench-partial.sh

# The server's load benchmarks (figures in docs/server.md):
# log-metric p50/p99 at 16 clients, log-batch points/s (and sustained for
# 60 s), create-run runs/s, search over 10,000 runs; with the 100,000-run
# fixture of make bench, search over it and a server process's start-up
# (with and without the index cache) and memory. Repositories go to
# BENCH_TMPDIR: /tmp on a shared machine is churned by every test suite,
# which at times makes creating a file there cost half a millisecond.
BENCH_TMPDIR  ?= /var/tmp
BENCH_FIXTURE ?= /tmp/mlgit-bench/runs-100000
bench-server:
	@echo "load average: $$(cut -d' ' -f1-3 /proc/loadavg), $$(nproc) cores"
	TMPDIR=$(BENCH_TMPDIR) $(GO) test -run '^$$' -bench 'BaselineHandler16|LogMetric16$$|LogMetric16Paced|LogBatch1000$$|CreateRun|SearchRuns10k' -benchtime 5s -count 3 ./server/
	@echo "load average: $$(cut -d' ' -f1-3 /proc/loadavg)"
	TMPDIR=$(BENCH_TMPDIR) MLGIT_BENCH_SUSTAIN=60s $(GO) test -run '^$$' -bench 'LogBatchSustained' -benchtime 1x -timeout 10m ./server/
	TMPDIR=$(BENCH_TMPDIR) $(GO) test -run '^$$' -bench 'ArtifactProxy1GiB' -benchtime 1x -count 3 -timeout 10m ./server/
	@if [ -d "$(BENCH_FIXTURE)" ]; then \
	  echo "load average: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	  TMPDIR=$(BENCH_TMPDIR) MLGIT_BENCH_FIXTURE=$(BENCH_FIXTURE) $(GO) test -run '^$$' -bench 'SearchRuns100k' -benchtime 300x -count 3 -timeout 20m ./server/; \
	  TMPDIR=$(BENCH_TMPDIR) MLGIT_BENCH_FIXTURE=$(BENCH_FIXTURE) $(GO) test -run '^$$' -bench 'Server100k' -benchtime 1x -count 3 -timeout 20m ./server/; \
	else echo "no $(BENCH_FIXTURE): run make bench once to build the 100,000-run fixture"; fi

# The web UI at scale in a real headless Chromium (needs the Debian package
# chromium and the uPlot bundle of make ui-assets; figures in
# docs/PERFORMANCE.md, "Web UI"): runs table of 100,000 runs (load, filter,
# sort), run page with 10 metrics x 1,000,000 steps (charts, zoom), compare
# of 100 runs x 10 metrics x 10,000 steps and of 1,000 runs on one chart, a
# run with 1,000 metric keys, JS+CSS shipped, server memory. Each benchmark
# runs 3 times, each in a fresh process (the parsed-history cache is
# process-wide: a second server in the same process would start warm and
# carry the first one's memory), each time a median of 5 page loads; -v
# prints where the time went (MLGIT_BENCH_UI_PROFILE=1 adds a JavaScript
# profile and a trace of the renderer). Fixtures are built once into
# /var/tmp/mlgit-bench-ui (about 3 minutes); then 6 minutes on 2 quiet cores,
# 10 when they are busy.
UI_BENCHES ?= UIRunsTable100k UIRunCharts10x1M UICompare100 UICompare1000OneChart UIRun1000Keys UIAssets
bench-ui:
	@echo "load average: $$(cut -d' ' -f1-3 /proc/loadavg), $$(nproc) cores"
	$(GO) test -c -o $(BENCH_TMPDIR)/mlgit-ui-bench.test ./server/ui/
	cd server/ui && for b in $(UI_BENCHES); do for i in 1 2 3; do \
	  MLGIT_BENCH_UI=1 $(BENCH_TMPDIR)/mlgit-ui-bench.test -test.run '^$$' -test.bench "^Benchmark$$b$$" -test.benchtime 1x -test.timeout 30m -test.v || exit 1; \
	  echo "load average: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	done; done

# Long metric histories: 1,000,000 points of one key logged, committed and
# read back with the history in Git and in the blob store (sizes included).
bench-history: build
	MLGIT=$(abspath $(BIN)) ./scripts/bench-history.sh

# Blob store against git lfs and cp, with 1 GiB files (several minutes,
# needs the Debian package git-lfs for the comparison).
bench-blob: build
	MLGIT=$(abspath $(BIN)) ./scripts/bench-blob.sh
	$(GO) test -tags "$(TAGS)" -run '^$$' -bench RemotePushPull -benchtime 1x -timeout 90m ./blob/

# gofmt, go vet and golangci-lint with .golangci.yml (govet, staticcheck,
# errcheck, ineffassign, unused, errorlint, misspell, and depguard rules that
# keep the package layering of docs/architecture.md). golangci-lint is
# installed into $(GOBIN) on first use, at the pinned version.
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT         := $(GOBIN)/golangci-lint
lint: golangci-lint
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -w needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GOLANGCI_LINT) run ./...

golangci-lint:
	@if ! $(GOLANGCI_LINT) version 2>/dev/null | grep -q "version $(GOLANGCI_LINT_VERSION:v%=%) "; then \
	  echo "installing golangci-lint $(GOLANGCI_LINT_VERSION)"; \
	  $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi

# The fault suite at full length (make test runs each in a short form):
# mlgit server killed with SIGKILL 20 times under 16 logging clients, an
# import killed again and again, a remote that drops connections mid-pack,
# torn journal files, SSH transport, a full disk (a small tmpfs, as root).
fault:
	MLGIT_FAULT_KILLS=20 $(GO) test -count=1 -timeout 20m -run 'TestServerKill9|TestSyncSurvivesDroppedConnections|TestSyncOverSSH|TestDiskFull' -v ./cmd/mlgit/
	$(GO) test -count=3 -timeout 20m -run 'TestImportResumesAfterKill' ./mlflowimport/
	$(GO) test -count=1 -run 'TestTornJournalFile|TestCheckpointSkipsTornJournalFile|TestDeleteRunArtifactsJournaled|TestPowerLossExactlyOnce|TestPowerLossRegistryAndExperiments|TestWALMarksAndRecovery|TestWALHeaderNamesItsFile' ./repo/ ./repo/journal/
	$(GO) test -count=1 -run 'TestDamagedCacheDetectedAndRepaired' ./cmd/mlgit/
	$(GO) test -count=5 -run 'TestKillNineWithHistoryInBlobs|TestKillNineDuringCheckpoints' ./server/

# Every fuzz target in the tree (found by scripts/fuzz.sh), FUZZTIME each:
# make fuzz FUZZTIME=2s; FUZZ=REGEXP runs only the matching "pkg/FuzzName".
FUZZTIME ?= 10s
FUZZ     ?=
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh $(FUZZ)

# The end-to-end demo on a temporary repository: no server, no network.
demo: build
	MLGIT=$(abspath $(BIN)) ./scripts/demo.sh

clean:
	rm -rf bin
