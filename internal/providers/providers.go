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
	"net/http"

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

// UserData fetches user data from a metadata service with req (its URL,
// and any headers the service wants) through h.Fetcher, which retries
// server errors until the fetch timeout. A 404 or an empty answer means
// the user gave none (ErrNoConfig); gzip-compressed user data is
// decompressed. Errors name the URL.
func UserData(ctx context.Context, h Host, req resource.Request) ([]byte, error) {
	url := resource.Redact(req.URL)
	h.Log.Info("fetching the user data from %s", url)
	raw, err := h.Fetcher.FetchBytes(ctx, req, config.MaxSize)
	switch {
	case resource.HTTPStatus(err) == http.StatusNotFound:
		h.Log.Info("no user data: %s answered 404 Not Found", url)
		return nil, fmt.Errorf("%w: %s answered 404 Not Found", ErrNoConfig, url)
	case err != nil:
		return nil, fmt.Errorf("fetching the user data from %s: %w", url, err)
	case len(raw) == 0:
		h.Log.Info("no user data: %s answered with nothing", url)
		return nil, fmt.Errorf("%w: the user data at %s is empty", ErrNoConfig, url)
	}
	cfg, err := MaybeGunzip(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return cfg, nil
}
