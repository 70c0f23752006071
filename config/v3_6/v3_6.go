// Package v3_6 describes spec 3.6.0, the latest stable spec. It adds no
// keys: setuid, setgid and sticky mode bits became supported (older versions
// warn about them), and a custom Clevis pin may be any pin.
package v3_6

import (
	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/v3_5"
)

// Spec is 3.6.0.
var Spec = func() spec.Spec {
	s := spec.New("3.6.0", &v3_5.Spec)
	s.Rules = []spec.Rule{spec.SpecialModeBits, spec.AnyClevisPin}
	return s
}()
