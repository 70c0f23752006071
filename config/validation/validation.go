// Package validation checks a decoded config against every rule of its spec
// version.
//
// The rules are written once, for the canonical types. Where versions
// differ, the code asks the spec (s.HasScheme, s.Has(spec.SomeRule), …)
// rather than comparing version strings, so a new version is described in
// config/v3_* and never needs a change here unless it brings a new rule.
//
// Keys a version does not define were dropped by the decoder, so a rule
// about a key (say storage.luks) silently never fires for versions that lack
// it; that is how most version differences are handled.
//
// The report lists entries in the order the reference implementation does,
// because users diff reports between implementations: first the rules of
// every object in a depth-first walk in struct field order, each object's
// own rules before those of its fields, then every duplicate entry.
//
// Where things are: errors.go holds every message; resource.go the
// ignition section and everything fetched by URL; storage.go disks,
// partitions, RAID, filesystems and LUKS; nodes.go files, directories and
// links, and their checks against each other and against systemd units;
// systemd.go units and drop-ins; duplicates.go the duplicate walk.
package validation

import (
	pathpkg "path"
	"strings"

	"github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"

	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/types"
)

// Validate returns every problem in cfg under spec s. Entries carry JSON
// paths; the caller places them at line:column.
func Validate(cfg *types.Config, s *spec.Spec) report.Report {
	v := validator{s: s}
	v.config(cfg)
	v.duplicates(cfg)
	return v.r
}

// validator collects the report for one config under one spec.
type validator struct {
	s *spec.Spec
	r report.Report
}

// err adds err (if not nil) as an error at p.
func (v *validator) err(p path.ContextPath, err error) { v.r.AddOnError(p, err) }

// warn adds err (if not nil) as a warning at p.
func (v *validator) warn(p path.ContextPath, err error) { v.r.AddOnWarn(p, err) }

// root is the path of the whole config; every entry path starts here.
func root(elems ...any) path.ContextPath { return path.New("json", elems...) }

func (v *validator) config(cfg *types.Config) {
	v.systemdConflicts(cfg)
	v.ignition(&cfg.Ignition)
	// kernelArguments and passwd have no rules beyond duplicates.
	v.storage(&cfg.Storage)
	v.systemd(&cfg.Systemd)
}

// checkPath applies the rule every absolute path in a config follows: node
// paths, devices and mount points must be absolute and already clean, so
// that two spellings of one path cannot slip past duplicate detection.
func checkPath(p string) error {
	switch {
	case p == "":
		return errPathEmpty
	case !strings.HasPrefix(p, "/"):
		return errPathRelative
	case pathpkg.Clean(p) != p:
		return errPathUnclean
	}
	return nil
}

// isTrue reports whether an optional bool is set to true.
func isTrue(b *bool) bool { return b != nil && *b }

// isFalse reports whether an optional bool is set to false (unset is not).
func isFalse(b *bool) bool { return b != nil && !*b }

// isEmpty reports whether an optional string is unset or "".
func isEmpty(s *string) bool { return s == nil || *s == "" }

// deref returns the value of an optional string, "" when unset.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
