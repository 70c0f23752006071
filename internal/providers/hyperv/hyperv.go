// Package hyperv is the "hyperv" platform. The user sets the config as
// Hyper-V data exchange (KVP) items on the VM, from the host; the guest's
// hv_kvp_daemon (started by the initramfs before Ignition) writes the
// items the host pushed into pool 0, the file /var/lib/hyperv/.kvp_pool_0.
//
// A pool file is a sequence of fixed-size records: a 512-byte key and a
// 2048-byte value, each a NUL-terminated UTF-8 string padded with NULs.
// A value holds at most 2047 bytes of text, so the config is either one
// item, "ignition.config", or split over "ignition.config.0",
// "ignition.config.1", … (numbered from 0, without gaps), which are
// concatenated in order. When neither is set (after waiting a little for
// the daemon, see settle) the user gave no config.
// Values are NUL-terminated text, so they cannot carry gzip data (which
// has NUL bytes); the config is passed as is.
//
// The pool belongs to the host: the guest cannot remove items from it, so
// the platform has nothing to delete after provisioning.
package hyperv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/ignition-go/ignition/internal/providers"
)

// PoolFile is the KVP pool the host's items land in (pool 0, "external").
const PoolFile = "/var/lib/hyperv/.kvp_pool_0"

// Record layout of a pool file.
const (
	keySize    = 512
	valueSize  = 2048
	recordSize = keySize + valueSize
)

// Item names.
const (
	singleKey = "ignition.config"
	splitKey  = "ignition.config." // followed by 0, 1, …
)

// The daemon writes the pool as the host's items arrive, which may be
// after Ignition starts: a pool that is missing, torn (read mid-write) or
// without the config is read again every pollEvery for up to settle.
const (
	settle    = 10 * time.Second
	pollEvery = 250 * time.Millisecond
)

// Fetch returns the config from the KVP pool, or ErrNoConfig.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, PoolFile, settle, pollEvery)
}

func fetchFrom(ctx context.Context, h providers.Host, pool string, wait, every time.Duration) ([]byte, error) {
	h.Log.Info("reading the config from the Hyper-V KVP pool %s", pool)
	deadline := time.Now().Add(wait)
	for logged := false; ; logged = true {
		cfg, err := readPool(h, pool)
		var again errAgain
		if err == nil || !errors.As(err, &again) || time.Now().After(deadline) {
			return cfg, err
		}
		if !logged {
			h.Log.Info("%v; waiting up to %v for hv_kvp_daemon to write the host's items", err, wait)
		}
		select {
		case <-time.After(every):
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (while waiting: %w)", ctx.Err(), err)
		}
	}
}

// errAgain marks a pool worth reading again.
type errAgain struct{ error }

func (e errAgain) Unwrap() error { return e.error }

func readPool(h providers.Host, pool string) ([]byte, error) {
	raw, err := os.ReadFile(pool)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errAgain{fmt.Errorf("the Hyper-V KVP pool %s does not exist (is hv_kvp_daemon running?): %w", pool, err)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading the Hyper-V KVP pool: %w", err)
	}
	items, err := ParsePool(raw)
	if err != nil {
		return nil, errAgain{fmt.Errorf("the Hyper-V KVP pool %s: %w", pool, err)}
	}
	if v, ok := items[singleKey]; ok {
		h.Log.Info("using the KVP item %s", singleKey)
		return []byte(v), nil
	}
	var cfg []byte
	n := 0
	for ; ; n++ {
		v, ok := items[splitKey+strconv.Itoa(n)]
		if !ok {
			break
		}
		cfg = append(cfg, v...)
	}
	if n == 0 {
		return nil, errAgain{fmt.Errorf("%w: the Hyper-V KVP pool %s has neither %s nor %s0", providers.ErrNoConfig, pool, singleKey, splitKey)}
	}
	if _, ok := items[splitKey+strconv.Itoa(n+1)]; ok {
		return nil, fmt.Errorf("the Hyper-V KVP pool %s: %s%d is missing but %s%d is set", pool, splitKey, n, splitKey, n+1)
	}
	h.Log.Info("using the KVP items %s0 to %s%d", splitKey, splitKey, n-1)
	return cfg, nil
}

// ParsePool returns the items of a pool file. A key that appears twice
// keeps its last value, as the daemon's updates overwrite in place.
func ParsePool(raw []byte) (map[string]string, error) {
	if len(raw)%recordSize != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of %d-byte records", len(raw), recordSize)
	}
	items := map[string]string{}
	for off := 0; off < len(raw); off += recordSize {
		key := cstring(raw[off : off+keySize])
		if key == "" {
			continue
		}
		items[key] = cstring(raw[off+keySize : off+recordSize])
	}
	return items, nil
}

// cstring is b up to its first NUL.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
