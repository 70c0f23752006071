// Package validation checks a decoded config against every rule of its spec
// version.
package validation

import (
	"github.com/coreos/vcontext/report"

	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/types"
)

// Validate returns every problem in cfg under spec s. Entries carry JSON
// paths; the caller places them at line:column.
func Validate(cfg *types.Config, s *spec.Spec) report.Report {
	// PLACEHOLDER: the rules are being written (issue 2).
	return report.Report{}
}
