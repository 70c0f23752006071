// Package exoscale is the Exoscale platform (exoscale). Exoscale's
// metadata server (CloudStack-derived, API version 1.0) serves the user
// data at http://169.254.169.254/1.0/user-data, a plain GET; 404 means the
// instance has none. (Exoscale documents a NoCloud drive instead for
// private instances, those without a public IP; it is not read here.)
package exoscale

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// UserDataURL is where the Exoscale metadata service keeps the user data.
const UserDataURL = "http://169.254.169.254/1.0/user-data"

// Fetch returns the user data from the Exoscale metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return providers.UserData(ctx, h, resource.Request{URL: UserDataURL})
}
