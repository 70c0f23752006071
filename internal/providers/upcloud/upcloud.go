// Package upcloud is the UpCloud platform (upcloud). The metadata
// service, reachable on every DHCP-configured interface when the server
// has it enabled, serves the user data at
// http://169.254.169.254/metadata/v1/user_data, a plain GET; 404 or an
// empty answer means none.
package upcloud

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// UserDataURL is where the UpCloud metadata service keeps the user data.
const UserDataURL = "http://169.254.169.254/metadata/v1/user_data"

// Fetch returns the user data from the UpCloud metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return providers.UserData(ctx, h, resource.Request{URL: UserDataURL})
}
