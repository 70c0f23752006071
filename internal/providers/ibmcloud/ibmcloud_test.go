package ibmcloud

import (
	"testing"

	"github.com/ignition-go/ignition/internal/providers/providertest"
)

func TestFetch(t *testing.T) {
	providertest.CheckDriveProvider(t, Fetch, providertest.Layout{Label: "cidata", OtherLabel: "config-2", Path: "user-data"})
}
