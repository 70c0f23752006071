// Package kubevirt is the KubeVirt platform (kubevirt). A KubeVirt VM gets
// its user data from a cloud-init volume, which is either NoCloud (a
// filesystem labelled cidata with a user-data file) or ConfigDrive (a
// filesystem labelled config-2 with openstack/latest/user_data), as the
// VM's spec chooses. Both are looked for, NoCloud first; neither, or no
// user data on the one present, means no user config.
package kubevirt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ignition-go/ignition/internal/providers"
)

// source is one place the user data may be.
type source struct {
	labels []string
	path   string
}

// sources are checked in order; the first with user data wins.
var sources = []source{
	{[]string{"cidata", "CIDATA"}, "user-data"},
	{[]string{"config-2", "CONFIG-2"}, "openstack/latest/user_data"},
}

// Fetch reads the user data from the cloud-init volume.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	var checked []string
	for _, s := range sources {
		cfg, err := providers.UserDataFromDrive(ctx, h, s.path, s.labels...)
		if errors.Is(err, providers.ErrNoConfig) {
			h.Log.Info("%v", err)
			checked = append(checked, fmt.Sprintf("%s on a drive labelled %s", s.path, strings.Join(s.labels, " or ")))
			continue
		}
		return cfg, err
	}
	return nil, fmt.Errorf("%w: no user data in %s", providers.ErrNoConfig, strings.Join(checked, ", nor in "))
}
