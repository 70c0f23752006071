package nutanix

import (
	"testing"

	"github.com/ignition-go/ignition/internal/providers/providertest"
)

func TestFetch(t *testing.T) {
	providertest.CheckDriveProvider(t, Fetch, providertest.Layout{Label: "config-2", OtherLabel: "cidata", Path: "openstack/latest/user_data"})
}
