package disks

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/log"
)

// scripted is a command runner for unit tests: it records every argv
// (joined with spaces) and answers from canned responses, chosen by the
// longest key that the joined argv starts with. Commands without a
// response succeed and print nothing.
type scripted struct {
	mu    sync.Mutex
	resp  map[string]reply
	calls []string
}

// reply is one canned answer: what the command prints, its exit status,
// and anything it does (a test's stand-in for the command's effect).
type reply struct {
	out  string
	exit int
	do   func(argv []string) error
}

// exitErr is a non-zero exit, carrying its status as os/exec's error does.
type exitErr int

func (e exitErr) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitErr) ExitCode() int { return int(e) }

func newScripted(resp map[string]reply) *scripted {
	if resp == nil {
		resp = map[string]reply{}
	}
	return &scripted{resp: resp}
}

func (f *scripted) Run(ctx context.Context, argv []string) error {
	_, err := f.Output(ctx, argv)
	return err
}

func (f *scripted) Output(_ context.Context, argv []string) ([]byte, error) {
	line := strings.Join(argv, " ")
	f.mu.Lock()
	f.calls = append(f.calls, line)
	var best string
	found := false
	for k := range f.resp {
		if strings.HasPrefix(line, k) && (!found || len(k) > len(best)) {
			best, found = k, true
		}
	}
	r := f.resp[best]
	f.mu.Unlock()
	if !found {
		return nil, nil
	}
	if r.do != nil {
		if err := r.do(argv); err != nil {
			return nil, err
		}
	}
	if r.exit != 0 {
		return []byte(r.out), fmt.Errorf("%s: %w", argv[0], exitErr(r.exit))
	}
	return []byte(r.out), nil
}

// testStage is a stage over cmd with the given devices already resolved
// (so that waiting for /dev/mapper/x or /dev/md/x needs no real device).
func testStage(t *testing.T, cmd *scripted, e Env, devices map[string]string) *stage {
	t.Helper()
	if devices == nil {
		devices = map[string]string{}
	}
	if e.KeyDir == "" {
		e.KeyDir = t.TempDir() + "/keys"
	}
	if e.DeviceTimeout == 0 {
		e.DeviceTimeout = DefaultDeviceTimeout
	}
	return &stage{cfg: &types.Config{}, e: e, cmd: cmd, log: log.Discard(), devices: devices}
}

func refOf[T any](v T) *T { return &v }
