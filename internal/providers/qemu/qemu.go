// Package qemu is the "qemu" platform. QEMU hands the guest its config
// through the firmware configuration device (fw_cfg), under the key
// opt/com.coreos/config (QEMU 2.4.0 and later):
//
//	qemu-system-x86_64 -fw_cfg name=opt/com.coreos/config,file=config.ign
//
// The kernel's qemu_fw_cfg module (loaded here with modprobe, since the
// initramfs may not have loaded it) shows each fw_cfg entry as a sysfs
// file, .../by_name/<key>/raw. Without the entry the user gave no config.
//
// The raw file is read sequentially into one buffer sized from the
// entry's "size" file, without ever re-opening or seeking. That removes
// all the cost userspace adds, but not the kernel's: sysfs hands a binary
// attribute out at most a page (4 KiB) per read, and qemu_fw_cfg serves a
// read at offset N by selecting the entry and discarding N bytes through
// the I/O port one at a time, so reading an entry through sysfs takes time
// quadratic in its size whatever the reader does (ignition#1259).
// TestFwCfgInVM measures it in a QEMU guest under TCG: 2.1 to 2.8 s for a
// 512 KiB config and 106 to 132 s for 4 MiB, this reader and one that
// re-opens the file for every 4 KiB alike. A config above warnSize is
// therefore read with a warning suggesting a smaller one (for example a
// small config that merges the large one from ignition.config.url).
//
// s390x and ppc64le have no fw_cfg: there the config is the content of the
// virtio-blk disk whose serial is "virtio-ignition" (by udev's naming,
// /dev/disk/by-id/virtio-ignition), padded with NUL bytes to the end of
// the disk. Without that disk the user gave no config.
package qemu

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
)

// Production locations; tests use their own through source.
const (
	// FwCfgPath is the sysfs file of the fw_cfg entry opt/com.coreos/config.
	FwCfgPath = "/sys/firmware/qemu_fw_cfg/by_name/opt/com.coreos/config/raw"
	// BlockDevice is the config disk on s390x and ppc64le.
	BlockDevice = "/dev/disk/by-id/virtio-ignition"
	// modprobeCmd loads the qemu_fw_cfg module.
	modprobeCmd = "modprobe"
	// fwCfgModule provides /sys/firmware/qemu_fw_cfg.
	fwCfgModule = "qemu_fw_cfg"
)

// source is where the provider looks; production is the real machine.
type source struct {
	arch     string // runtime.GOARCH
	fwCfg    string // FwCfgPath
	blockDev string // BlockDevice
}

var production = source{arch: runtime.GOARCH, fwCfg: FwCfgPath, blockDev: BlockDevice}

// Fetch returns the config QEMU was given, or ErrNoConfig.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return production.fetch(ctx, h)
}

func (s source) fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	if s.arch == "s390x" || s.arch == "ppc64le" {
		return s.fetchBlock(h)
	}
	return s.fetchFwCfg(ctx, h)
}

func (s source) fetchFwCfg(ctx context.Context, h providers.Host) ([]byte, error) {
	if err := h.Cmd().Run(ctx, []string{modprobeCmd, fwCfgModule}); err != nil {
		// It may be built in, or loaded already by another name.
		h.Log.Warning("loading %s: %v", fwCfgModule, err)
	}
	h.Log.Info("reading the config from fw_cfg %s", s.fwCfg)
	if n, ok := fwCfgSize(s.fwCfg); ok && n > warnSize {
		h.Log.Warning("the fw_cfg config is %d bytes: the kernel reads fw_cfg in time quadratic in its size, so this may take minutes; a small config that merges a remote one is faster", n)
	}
	raw, err := ReadLarge(s.fwCfg)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: fw_cfg has no opt/com.coreos/config (%s does not exist)", providers.ErrNoConfig, s.fwCfg)
	}
	if err != nil {
		return nil, fmt.Errorf("reading fw_cfg %s: %w", s.fwCfg, err)
	}
	return providers.MaybeGunzip(raw)
}

func (s source) fetchBlock(h providers.Host) ([]byte, error) {
	h.Log.Info("reading the config from the virtio-ignition disk %s", s.blockDev)
	f, err := os.Open(s.blockDev)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no virtio-ignition disk (%s does not exist)", providers.ErrNoConfig, s.blockDev)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the config disk %s: %w", s.blockDev, err)
	}
	defer f.Close()
	raw, err := config.ReadFrom(f)
	if err != nil {
		return nil, fmt.Errorf("reading the config disk %s: %w", s.blockDev, err)
	}
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		// A gzip stream may itself end in zero bytes, so it is not
		// trimmed: it is read up to its own end, and the padding after
		// it is ignored.
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("the config disk %s looks gzip-compressed but is not: %w", s.blockDev, err)
		}
		zr.Multistream(false)
		out, err := config.ReadFrom(zr)
		if err != nil {
			return nil, fmt.Errorf("decompressing the config disk %s: %w", s.blockDev, err)
		}
		return out, nil
	}
	// The disk is larger than the config; the rest is zeros.
	return bytes.TrimRight(raw, "\x00"), nil
}

// warnSize is the config size above which reading fw_cfg is slow enough
// (several seconds, growing quadratically) to warn about.
const warnSize = 1 << 20

// fwCfgSize returns the size of the fw_cfg entry whose raw file is raw,
// from the "size" file next to it.
func fwCfgSize(raw string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(raw), "size"))
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil && n >= 0
}

// initialBuffer is the buffer ReadLarge starts with when the entry's size
// is unknown: most configs fit, so most reads are one system call per page
// the kernel hands out, into one allocation.
const initialBuffer = 1 << 20

// ReadLarge reads a whole file, sequentially and into one large buffer
// (grown by doubling), never re-opening or seeking. For a fw_cfg entry the
// buffer is sized from the entry's "size" file next to "raw" when there is
// one. At most config.MaxSize+1 bytes are read, so that the parser can
// refuse an oversized config.
func ReadLarge(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := initialBuffer
	if n, ok := fwCfgSize(path); ok && n <= config.MaxSize {
		size = n + 1 // +1 so the final read sees EOF without growing
	}
	buf := make([]byte, 0, size)
	for len(buf) <= config.MaxSize {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // let append grow it (doubling)
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return buf[:config.MaxSize+1], nil
}
