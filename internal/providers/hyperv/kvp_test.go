package hyperv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
)

// fakeHost plays the driver and the host behind it: once registered, it
// sends a register answer and then its items, one SET message each, and
// counts the guest's answers.
type fakeHost struct {
	items      []kvpItem
	queue      [][]byte
	registered bool
	answers    int
	closed     bool
	short      bool // send a truncated message
}

type kvpItem struct {
	pool       uint8
	key, value string
}

func setMsg(it kvpItem) []byte {
	m := make([]byte, kvpMsgSize)
	m[0], m[offPool] = opSet, it.pool
	binary.LittleEndian.PutUint32(m[offKeySize:], uint32(len(it.key)+1))
	binary.LittleEndian.PutUint32(m[offValueSize:], uint32(len(it.value)+1))
	copy(m[offKey:], it.key)
	copy(m[offValue:], it.value)
	return m
}

func (f *fakeHost) Write(b []byte) (int, error) {
	if len(b) != kvpMsgSize {
		return 0, fmt.Errorf("a message of %d bytes", len(b))
	}
	if !f.registered {
		if b[0] != opRegister1 {
			return 0, fmt.Errorf("first message is operation %d, not register", b[0])
		}
		f.registered = true
		reg := make([]byte, kvpMsgSize)
		reg[0] = opRegister1
		f.queue = append(f.queue, reg)
		for _, it := range f.items {
			f.queue = append(f.queue, setMsg(it))
		}
		if f.short {
			f.queue = append(f.queue, make([]byte, 100))
		}
		return len(b), nil
	}
	for _, c := range b {
		if c != 0 {
			return 0, errors.New("an answer that is not HV_S_OK and zeros")
		}
	}
	f.answers++
	return len(b), nil
}

func (f *fakeHost) Wait(time.Duration) (bool, error) { return len(f.queue) > 0, nil }

func (f *fakeHost) Read(b []byte) (int, error) {
	m := f.queue[0]
	f.queue = f.queue[1:]
	return copy(b, m), nil
}

func (f *fakeHost) Close() error { f.closed = true; return nil }

type noCommands struct{}

func (noCommands) Run(context.Context, []string) error { return nil }
func (noCommands) Output(context.Context, []string) ([]byte, error) {
	return nil, nil
}

func kvpHost() providers.Host {
	return providers.Host{Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }, Commands: noCommands{}}
}

func TestFetchFromDevice(t *testing.T) {
	cfg := bigConfig()
	var items []kvpItem
	for _, it := range split(cfg) {
		items = append(items, kvpItem{0, it.k, it.v})
	}
	items = append(items, kvpItem{3, "other", "kept in pool 3"})
	f := &fakeHost{items: items}
	dir := t.TempDir()
	opened := ""
	s := source{device: "/dev/fake_kvp", dir: dir, wait: time.Millisecond, every: time.Millisecond,
		open: func(p string) (kvpConn, error) { opened = p; return f, nil }}

	got, err := fetch(context.Background(), kvpHost(), s)
	if err != nil || string(got) != cfg {
		t.Fatalf("fetch = %d bytes, %v", len(got), err)
	}
	if opened != "/dev/fake_kvp" || !f.closed || f.answers != len(items) {
		t.Errorf("opened %q, closed %v, %d answers for %d items", opened, f.closed, f.answers, len(items))
	}
	// The items are kept as the daemon keeps them, for root only.
	for pool, want := range map[int]int{0: len(items) - 1, 3: 1} {
		p := filepath.Join(dir, fmt.Sprintf(".kvp_pool_%d", pool))
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParsePool(raw)
		if err != nil || len(parsed) != want {
			t.Errorf("pool %d: %d items, %v", pool, len(parsed), err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("pool %d has mode %v", pool, fi.Mode())
		}
	}

	// Later in the boot the host sends nothing again; the kept pool
	// serves, and the device is not opened.
	opened = ""
	got, err = fetch(context.Background(), kvpHost(), s)
	if err != nil || string(got) != cfg || opened != "" {
		t.Fatalf("second fetch = %d bytes, %v, opened %q", len(got), err, opened)
	}
}

func TestFetchFromDeviceErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      *fakeHost
		none   bool
		expect string
	}{
		{"no items", &fakeHost{}, true, "has neither ignition.config nor ignition.config.0"},
		{"only other items", &fakeHost{items: []kvpItem{{0, "hostname", "x"}}}, true, ""},
		{"truncated message", &fakeHost{short: true}, false, "a message of 100 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := source{device: "/dev/fake_kvp", dir: t.TempDir(), open: func(string) (kvpConn, error) { return tc.f, nil }}
			_, err := fetch(context.Background(), kvpHost(), s)
			if errors.Is(err, providers.ErrNoConfig) != tc.none || err == nil || (tc.expect != "" && !strings.Contains(err.Error(), tc.expect)) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestFetchFallsBackToThePool: without the device (an older kernel) or
// with hv_kvp_daemon holding it, the daemon's pool is read.
func TestFetchFallsBackToThePool(t *testing.T) {
	const small = `{"ignition": {"version": "3.4.0"}}`
	for name, openErr := range map[string]error{
		"no device":   &fs.PathError{Op: "open", Path: "/dev/fake_kvp", Err: fs.ErrNotExist},
		"daemon runs": &fs.PathError{Op: "open", Path: "/dev/fake_kvp", Err: unix.EBUSY},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := source{device: "/dev/fake_kvp", dir: dir, wait: 2 * time.Second, every: 10 * time.Millisecond,
				open: func(string) (kvpConn, error) { return nil, openErr }}
			// The daemon writes the pool a little later.
			raw, err := os.ReadFile(pool(t, kv{"ignition.config", small}))
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				time.Sleep(50 * time.Millisecond)
				os.WriteFile(filepath.Join(dir, ".kvp_pool_0"), raw, 0o644)
			}()
			got, err := fetch(context.Background(), kvpHost(), s)
			if err != nil || string(got) != small {
				t.Fatalf("fetch = %q, %v", got, err)
			}
		})
	}
}
