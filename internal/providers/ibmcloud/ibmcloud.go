// Package ibmcloud is the IBM Cloud (VPC) platform (ibmcloud). IBM Cloud
// attaches a cloud-init NoCloud drive, a filesystem labelled cidata,
// whose user-data file is the user data given when the instance was
// created. No drive, no file or an empty one means no user config.
package ibmcloud

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
)

// The config drive's labels (either case, as ISO 9660 and FAT tools may
// upper-case them) and the user data's path on it.
var labels = []string{"cidata", "CIDATA"}

const userDataPath = "user-data"

// Fetch reads the user data from the config drive.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return providers.UserDataFromDrive(ctx, h, userDataPath, labels...)
}
