// Package nvidiabluefield is the "nvidiabluefield" platform: NVIDIA
// BlueField DPUs booted from a BFB image pushed by the host over rshim.
// The host pushes the config right after the image (for example
// `cat image.bfb config.ign > /dev/rshim0/boot`); on the DPU the
// mlxbf-bootctl driver (ACPI device MLNXBF04) shows what is left in the
// boot FIFO as the binary sysfs file
// /sys/bus/platform/devices/MLNXBF04:00/bootfifo.
//
// The file is a FIFO, not a stored copy: every read consumes what it
// returns, 8-byte words at a time, and a read ends (returns 0 bytes) once
// no word arrived for 500 ms. It is read once, sequentially, to the end;
// the last word is padded with NUL bytes, which are dropped. An empty FIFO
// means the user gave no config; so does a DPU without the device (the
// module, loaded here with modprobe, found no MLNXBF04).
package nvidiabluefield

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
)

// BootFIFO is the sysfs file of the rshim boot FIFO.
const BootFIFO = "/sys/bus/platform/devices/MLNXBF04:00/bootfifo"

const (
	modprobeCmd = "modprobe"
	module      = "mlxbf-bootctl"
)

// Fetch returns the config left in the boot FIFO, or ErrNoConfig.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, BootFIFO)
}

func fetchFrom(ctx context.Context, h providers.Host, path string) ([]byte, error) {
	if err := h.Cmd().Run(ctx, []string{modprobeCmd, module}); err != nil {
		h.Log.Warning("loading %s: %v", module, err)
	}
	h.Log.Info("reading the config from the rshim boot FIFO %s", path)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", providers.ErrNoConfig, path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the boot FIFO: %w", err)
	}
	defer f.Close()
	raw, err := config.ReadFrom(f)
	if err != nil {
		return nil, fmt.Errorf("reading the boot FIFO %s: %w", path, err)
	}
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		// Read the gzip stream to its own end: it may end in zero bytes
		// itself, so the padding is not trimmed first.
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("the boot FIFO %s looks gzip-compressed but is not: %w", path, err)
		}
		zr.Multistream(false)
		out, err := io.ReadAll(io.LimitReader(zr, config.MaxSize+1))
		if err != nil {
			return nil, fmt.Errorf("decompressing the boot FIFO %s: %w", path, err)
		}
		return out, nil
	}
	raw = bytes.TrimRight(raw, "\x00")
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%w: the boot FIFO %s is empty", providers.ErrNoConfig, path)
	}
	return raw, nil
}
