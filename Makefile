# Everything a developer or CI runs. `make test` is the one CI calls.
GO          ?= go
TOOLS       := $(CURDIR)/.tools
STATICCHECK := $(TOOLS)/staticcheck
STATICCHECK_VERSION := v0.8.2
# How long each fuzz target runs in `make test` (CI runs them briefly).
FUZZTIME    ?= 20s
BENCHCOUNT  ?= 6

.PHONY: all build test test-boot unit fuzz lint bench demo clean host-tools

all: build

build:
	./build

## demo: build, validate every example config, then provision a scratch
## disk image from examples/demo.ign through every stage (as root; without
## root it falls back to ignition-apply into a temporary directory).
demo: build
	@./examples/demo.sh

## test: lint, every unit test, then each fuzz target briefly.
test: host-tools lint unit fuzz

# Host tools the disks stage and the blackbox and VM tests drive (as root:
# loop devices, GPT, mkfs, md, LUKS, Clevis, QEMU with Debian's kernel).
# Installed with apt-get when missing and we are root; otherwise those
# tests skip and say why. Each entry is command:package.
HOST_TOOLS := sgdisk:gdisk partx:util-linux losetup:mount blkid:util-linux wipefs:util-linux \
	mkfs.ext4:e2fsprogs mkfs.xfs:xfsprogs mkfs.btrfs:btrfs-progs mkfs.vfat:dosfstools \
	mdadm:mdadm cryptsetup:cryptsetup-bin clevis:clevis clevis-luks-bind:clevis-luks \
	clevis-encrypt-tpm2:clevis-tpm2 /usr/libexec/tangd:tang socat:socat swtpm:swtpm \
	swtpm_setup:swtpm-tools qemu-system-x86_64:qemu-system-x86 busybox:busybox-static cpio:cpio \
	useradd:passwd ip:iproute2 xz:xz-utils /boot/vmlinuz-*:linux-image-amd64 \
	dracut:dracut-core /usr/lib/dracut/modules.d/01systemd-networkd:dracut-network \
	grub-script-check:grub-common debugfs:e2fsprogs systemd-analyze:systemd \
	/usr/lib/systemd/systemd-udevd:udev
host-tools:
	@missing=""; for t in $(HOST_TOOLS); do c=$${t%%:*}; \
		{ ls $$c >/dev/null 2>&1 || command -v "$$c" >/dev/null; } || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing:$$missing"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	elif [ -n "$$missing" ]; then echo "missing host tools (their tests will skip):$$missing"; fi

## test-boot: the boot integration test alone: a dracut initramfs with
## dracut/30ignition booted in QEMU (also part of `make unit`).
test-boot: host-tools
	$(GO) test -count=1 -v -run '^TestBoot$$' ./tests/boot

# tests/providers (ip netns exec) and tests/boot (unshare --mount) run
# commands in a copy of the host's mount namespace: a loop device another
# package's test has mounted at that moment stays mounted in the copy, and
# that test's unmount or read-only remount fails. So they run after the
# rest, one package at a time.
unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -e /tests/providers$$ -e /tests/boot$$)
	$(GO) test -count=1 -p 1 ./tests/providers ./tests/boot

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzMatchesStdlib$$' -fuzztime $(FUZZTIME) ./config/internal/jsontree
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzDataURL$$' -fuzztime $(FUZZTIME) ./config/validation
	$(GO) test -run '^$$' -fuzz '^FuzzTranspile$$' -fuzztime $(FUZZTIME) ./transpile

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
	$(GO) test -run '^$$' -bench 'Transpile' -count $(BENCHCOUNT) ./transpile
	$(GO) test -run '^$$' -bench 'FilesStage' -benchtime 3x -count $(BENCHCOUNT) ./internal/exec/stages/files
	@# The disks stage on loop devices needs root; it skips otherwise.
	$(GO) test -run '^$$' -bench 'DisksStage|CreateFilesystems' -benchtime 3x -count $(BENCHCOUNT) ./internal/exec/stages/disks
	@# Peak RSS is per process: measure the 1 GiB fetch in a process of its own.
	$(GO) test -run '^$$' -bench 'PeakRSS' -benchtime 1x -count 1 ./internal/resource

clean:
	rm -rf bin $(TOOLS)
