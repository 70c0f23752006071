// Package metal is the bare-metal platform (metal). Bare metal has no
// metadata service or hypervisor channel: the user config comes from the
// kernel command line, which the engine reads before asking any platform
// (ignition.config.url=URL, or ignition.config.device=LABEL with
// ignition.config.path=PATH; see internal/exec), or from user.ign in the
// config dirs. So when the platform is asked, the user gave no config.
package metal

import (
	"context"
	"fmt"

	"github.com/ignition-go/ignition/internal/providers"
)

// Fetch reports that bare metal has no config source of its own.
func Fetch(_ context.Context, h providers.Host) ([]byte, error) {
	h.Log.Info("bare metal has no config source besides the kernel command line")
	return nil, fmt.Errorf("%w: no ignition.config.url, nor ignition.config.device and ignition.config.path, on the kernel command line", providers.ErrNoConfig)
}
