// Package hyperv is the "hyperv" platform. The user sets the config as
// Hyper-V data exchange (KVP) items on the VM, from the host, which sends
// them to the guest once a boot. The guest receives them itself on the
// hv_utils driver's device (kvp.go) and keeps them in the pool files
// hv_kvp_daemon would write; when the device is not there or the daemon
// holds it, or a pool file from earlier in this boot exists, pool 0, the
// file /var/lib/hyperv/.kvp_pool_0, is read instead.
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
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ignition-go/ignition/internal/providers"
)

// PoolFile is the KVP pool the host's items land in (pool 0, "external").
const PoolFile = PoolDir + "/.kvp_pool_0"

const (
	modprobeCmd = "modprobe"
	module      = "hv_utils"
)

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

// Fetch returns the config from the host's KVP items, or ErrNoConfig.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetch(ctx, h, source{device: KVPDevice, open: openDevice, dir: PoolDir, wait: settle, every: pollEvery})
}

// source is where fetch looks: the device, and the pool directory.
type source struct {
	device      string
	open        func(string) (kvpConn, error)
	dir         string
	wait, every time.Duration
}

func fetch(ctx context.Context, h providers.Host, s source) ([]byte, error) {
	pool0 := filepath.Join(s.dir, ".kvp_pool_0")
	if _, err := os.Stat(pool0); err == nil {
		// Received earlier in this boot, or kept by hv_kvp_daemon.
		return fetchFrom(ctx, h, pool0, s.wait, s.every)
	}
	if err := h.Cmd().Run(ctx, []string{modprobeCmd, module}); err != nil {
		h.Log.Warning("loading %s: %v", module, err)
	}
	c, err := s.open(s.device)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.EBUSY):
		h.Log.Info("%v; reading the pool hv_kvp_daemon keeps", err)
		return fetchFrom(ctx, h, pool0, s.wait, s.every)
	case err != nil:
		return nil, fmt.Errorf("opening the Hyper-V data exchange device: %w", err)
	}
	h.Log.Info("receiving the host's KVP items on %s", s.device)
	p, err := receive(c)
	c.Close()
	if err != nil {
		return nil, err
	}
	if err := writePools(s.dir, p); err != nil {
		h.Log.Warning("keeping the KVP items in %s: %v", s.dir, err)
	}
	return configFrom(h, p[0], "the host's KVP items (pool 0)")
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
	cfg, err := configFrom(h, items, "the Hyper-V KVP pool "+pool)
	if errors.Is(err, providers.ErrNoConfig) {
		return nil, errAgain{err}
	}
	return cfg, err
}

// configFrom assembles the config from the items of pool 0.
func configFrom(h providers.Host, items map[string]string, where string) ([]byte, error) {
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
		return nil, fmt.Errorf("%w: %s has neither %s nor %s0", providers.ErrNoConfig, where, singleKey, splitKey)
	}
	if _, ok := items[splitKey+strconv.Itoa(n+1)]; ok {
		return nil, fmt.Errorf("%s: %s%d is missing but %s%d is set", where, splitKey, n, splitKey, n+1)
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

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// cstring is b up to its first NUL.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
