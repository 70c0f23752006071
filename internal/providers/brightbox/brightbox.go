// Package brightbox is the Brightbox platform (brightbox). Brightbox's
// metadata service is compatible with EC2's (without IMDSv2 tokens): the
// user data is at http://169.254.169.254/latest/user-data, a plain GET; 404
// means the server was created without user data.
package brightbox

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// UserDataURL is where the Brightbox metadata service keeps the user data.
const UserDataURL = "http://169.254.169.254/latest/user-data"

// Fetch returns the user data from the Brightbox metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return providers.UserData(ctx, h, resource.Request{URL: UserDataURL})
}
