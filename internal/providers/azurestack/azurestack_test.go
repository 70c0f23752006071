package azurestack

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
)

// noDrives is a host where blkid finds nothing (exit status 2) and
// nothing else may run.
type noDrives struct{ calls []string }

func (n *noDrives) Output(_ context.Context, argv []string) ([]byte, error) {
	n.calls = append(n.calls, strings.Join(argv, " "))
	return nil, errors.New("exit status 2")
}

func (n *noDrives) Run(_ context.Context, argv []string) error {
	n.calls = append(n.calls, strings.Join(argv, " "))
	return errors.New("nothing to run")
}

// TestNoCD: without a provisioning CD there is no config, and only blkid
// was asked (no network: there is no Fetcher to use).
func TestNoCD(t *testing.T) {
	cmds := &noDrives{}
	_, err := Fetch(context.Background(), providers.Host{Log: log.Discard(), Commands: cmds})
	if !errors.Is(err, providers.ErrNoConfig) {
		t.Fatalf("err = %v, want ErrNoConfig", err)
	}
	if len(cmds.calls) != 2 || !strings.Contains(cmds.calls[0], "TYPE=udf") || !strings.Contains(cmds.calls[1], "TYPE=iso9660") {
		t.Errorf("ran %q, want blkid for udf, then iso9660", cmds.calls)
	}
}
