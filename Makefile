# Everything a developer or CI runs. `make test` is the one CI calls.
GO          ?= go
TOOLS       := $(CURDIR)/.tools
STATICCHECK := $(TOOLS)/staticcheck
STATICCHECK_VERSION := v0.8.2
# How long each fuzz target runs in `make test` (CI runs them briefly).
FUZZTIME    ?= 20s
BENCHCOUNT  ?= 6

.PHONY: all build test unit fuzz lint bench demo clean host-tools

all: build

build:
	./build

## demo: build, then validate every example config, printing each report.
demo: build
	@./examples/demo.sh

## test: lint, every unit test, then each fuzz target briefly.
test: host-tools lint unit fuzz

# Host tools the blackbox tests drive (as root: loop devices, GPT, mkfs).
# Installed with apt-get when missing and we are root; otherwise those
# tests skip and say why.
HOST_TOOLS := sgdisk:gdisk partx:util-linux losetup:mount mkfs.ext4:e2fsprogs
host-tools:
	@missing=""; for t in $(HOST_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	elif [ -n "$$missing" ]; then echo "missing host tools (their tests will skip):$$missing"; fi

unit:
	$(GO) test -count=1 ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzMatchesStdlib$$' -fuzztime $(FUZZTIME) ./config/internal/jsontree
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzDataURL$$' -fuzztime $(FUZZTIME) ./config/validation

lint: $(STATICCHECK)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## bench: every Go benchmark, several runs each (the machines are noisy:
## compare medians, e.g. with benchstat).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./config/...
	$(GO) test -run '^$$' -bench 'FetchAllVsSequential|PipelineVsCp' -benchtime 2x -count $(BENCHCOUNT) ./internal/resource
	$(GO) test -run '^$$' -bench 'FilesStage' -benchtime 3x -count $(BENCHCOUNT) ./internal/exec/stages/files
	@# Peak RSS is per process: measure the 1 GiB fetch in a process of its own.
	$(GO) test -run '^$$' -bench 'PeakRSS' -benchtime 1x -count 1 ./internal/resource

clean:
	rm -rf bin $(TOOLS)
