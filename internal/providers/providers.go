// Package providers holds what every config provider shares: the Host a
// provider may use, ErrNoConfig, and small helpers (gzip-compressed user
// data, config drives). Each platform's provider lives in a package of its
// own below this one (internal/providers/aws, …/qemu, …); the table that
// maps -platform ids to them is internal/platform.
//
// A provider returns the raw user config; the engine parses it. A provider
// that looked and found no config returns ErrNoConfig, which is not a
// failure: the machine is provisioned from the base configs alone.
package providers

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/resource"
)

// ErrNoConfig is returned (wrapped or not) by a provider that has looked
// and found that the user supplied no config.
var ErrNoConfig = errors.New("the platform provides no config")

// Host is what a provider may use of the machine: every fetch goes through
// Fetcher (which is offline in the fetch-offline stage, so a provider that
// needs the network gets resource.ErrNeedsNetwork from it), messages go to
// Log, the environment is read through Getenv and host commands (blkid,
// mount) run through Commands, so tests can replace all of them. Fetcher,
// Log and Getenv must be set; a nil Commands runs commands with os/exec.
type Host struct {
	Fetcher  *resource.Fetcher
	Log      *log.Logger
	Getenv   func(key string) (string, bool)
	Commands command.OutputRunner
}

// Cmd returns h.Commands, or the os/exec runner when it is nil.
func (h Host) Cmd() command.OutputRunner {
	if h.Commands == nil {
		return command.Exec{}
	}
	return h.Commands
}

// Fetch is a provider: it returns the raw user config, or ErrNoConfig.
type Fetch func(ctx context.Context, h Host) ([]byte, error)

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// MaybeGunzip returns user data as the config it holds: gzip-compressed
// user data (which several clouds' size limits push users to, e.g. EC2's
// 16 KiB) is decompressed, anything else returned as is. The result is
// bounded by config.MaxSize.
func MaybeGunzip(raw []byte) ([]byte, error) {
	if !bytes.HasPrefix(raw, gzipMagic) {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("user data looks gzip-compressed but is not: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, config.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing gzip user data: %w", err)
	}
	if len(out) > config.MaxSize {
		return nil, fmt.Errorf("gzip user data decompresses to more than %d bytes", config.MaxSize)
	}
	return out, nil
}
