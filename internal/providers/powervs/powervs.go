// Package powervs is the IBM Power Systems Virtual Server platform
// (powervs). PowerVS (OpenStack-based) attaches an OpenStack-format config
// drive, a filesystem labelled config-2, holding the user data in
// openstack/latest/user_data. No drive, no file or an empty one means no
// user config.
package powervs

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
)

// The config drive's labels (either case, as ISO 9660 and FAT tools may
// upper-case them) and the user data's path on it.
var labels = []string{"config-2", "CONFIG-2"}

const userDataPath = "openstack/latest/user_data"

// Fetch reads the user data from the config drive.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return providers.UserDataFromDrive(ctx, h, userDataPath, labels...)
}
