# mlgit — build, test, benchmark, demo.
GO       ?= go
BIN      ?= bin/mlgit
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
PKGS     := ./...
GOBIN    := $(shell $(GO) env GOPATH)/bin

.PHONY: all build install test test-short bench bench-sync bench-blob lint fuzz demo clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mlgit

install:
	$(GO) install -ldflags "$(LDFLAGS)" ./cmd/mlgit

# The full suite. Test servers that are built with Go (versitygw for the S3
# tests) are installed on first use and cached in $(GOBIN); tests that need a
# Debian package (git-lfs, chromium) say so when it is missing, and .ci/run
# installs those packages.
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 15m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Benchmarks whose figures are recorded in docs/PERFORMANCE.md.
bench: build
	$(GO) test -run '^$$' -bench 'LogBatchJournal|CheckpointOneRun' -benchtime 30x -count 5 ./repo/
	MLGIT_BIN=$(abspath $(BIN)) $(GO) test -run '^$$' -bench 'BenchmarkRegistry' -benchtime 30x -count 3 ./repo/
	$(GO) test -run '^$$' -bench . -benchmem ./diff/ ./manifest/ ./query/
	MLGIT=$(abspath $(BIN)) ./scripts/bench.sh
	MLGIT=$(abspath $(BIN)) ./scripts/bench-sync.sh

# Sharing: push/pull of one run against a 100,000-run remote, and four clones
# pushing concurrently (issue 5).
bench-sync: build
	MLGIT=$(abspath $(BIN)) ./scripts/bench-sync.sh

# Blob store against git lfs and cp, with 1 GiB files (several minutes,
# needs the Debian package git-lfs for the comparison).
bench-blob: build
	MLGIT=$(abspath $(BIN)) ./scripts/bench-blob.sh

lint:
	gofmt -l . | (! grep .)
	$(GO) vet $(PKGS)
	@if command -v golangci-lint >/dev/null 2>&1; then golangci-lint run ./...; \
	else echo "golangci-lint not installed: go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0"; fi

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./manifest/
	$(GO) test -run '^$$' -fuzz '^FuzzSegment$$' -fuzztime $(FUZZTIME) ./manifest/
	$(GO) test -run '^$$' -fuzz '^FuzzParseFilter$$' -fuzztime $(FUZZTIME) ./query/
	$(GO) test -run '^$$' -fuzz '^FuzzParseOrderBy$$' -fuzztime $(FUZZTIME) ./query/

# The end-to-end demo on a temporary repository: no server, no network.
demo: build
	MLGIT=$(abspath $(BIN)) ./scripts/demo.sh

clean:
	rm -rf bin
