// Package v3_7_experimental describes spec 3.7.0-experimental, which may
// change without notice. It adds the virtiofs filesystem format (a virtiofs
// "device" is a tag, not a path).
package v3_7_experimental

import (
	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/v3_6"
)

// Spec is 3.7.0-experimental.
var Spec = func() spec.Spec {
	s := spec.New("3.7.0-experimental", &v3_6.Spec)
	s.Formats = []string{"virtiofs"}
	return s
}()
