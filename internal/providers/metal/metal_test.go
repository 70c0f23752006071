package metal

import (
	"context"
	"errors"
	"testing"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
)

func TestFetch(t *testing.T) {
	got, err := Fetch(context.Background(), providers.Host{Log: log.Discard()})
	if !errors.Is(err, providers.ErrNoConfig) || got != nil {
		t.Fatalf("= %q, %v; want ErrNoConfig", got, err)
	}
}
