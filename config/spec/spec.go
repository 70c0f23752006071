// Package spec describes a config spec version by what it changed from the
// version before it. Each config/v3_* package holds one Spec; the shared
// parser, validator and translator read them, so a rule that holds in every
// version is written once and a version holds only its differences.
package spec

import (
	"slices"

	"github.com/coreos/go-semver/semver"
)

// Spec is one config spec version.
type Spec struct {
	// Version is the exact ignition.version string this spec accepts.
	Version semver.Version
	// Base is the version this one extends; nil for 3.0.0.
	Base *Spec

	// Keys are the JSON key paths this version added, dotted, with list
	// elements left out (storage.luks.clevis.tang.advertisement). A path
	// brings its whole subtree, except for keys a later version lists.
	Keys []string
	// Schemes are URL schemes resources may newly use.
	Schemes []string
	// Hashes are verification hash functions newly allowed.
	Hashes []string
	// Formats are filesystem formats newly allowed.
	Formats []string
	// Rules are validation rules that hold from this version on.
	Rules []Rule
}

// Rule is a validation rule that some versions have and older ones lack.
// Rules are only ever switched on by a version, never off: where a newer
// version relaxes a check, the rule names the relaxed behaviour.
type Rule string

// The rules that differ between versions.
const (
	// SourceRequired: merged configs and CA bundles must name a source (3.1).
	SourceRequired Rule = "source-required"
	// LinkTargetRequired: a link must have a target (3.3).
	LinkTargetRequired Rule = "link-target-required"
	// RaidLevelRequired: a RAID array must have a level (3.3).
	RaidLevelRequired Rule = "raid-level-required"
	// ClevisPinRequired: an empty custom Clevis pin is reported as missing,
	// not as unsupported (3.3).
	ClevisPinRequired Rule = "clevis-pin-required"
	// SpecialModeBits: setuid, setgid and sticky bits are supported; older
	// versions warn that they are not (3.6).
	SpecialModeBits Rule = "special-mode-bits"
	// AnyClevisPin: a custom Clevis pin may be any pin, not only tpm2, tang
	// or sss (3.6).
	AnyClevisPin Rule = "any-clevis-pin"
)

// New returns the spec for version v, built on base, or panics on a bad
// version string (the strings are constants in this repository).
func New(v string, base *Spec) Spec {
	return Spec{Version: *semver.New(v), Base: base}
}

// String returns the version string, e.g. "3.4.0".
func (s *Spec) String() string { return s.Version.String() }

// Experimental reports whether the version is a pre-release.
func (s *Spec) Experimental() bool { return s.Version.PreRelease != "" }

// AtLeast reports whether this spec is v or newer.
func (s *Spec) AtLeast(v string) bool {
	return !s.Version.LessThan(*semver.New(v))
}

// HasScheme reports whether resources may use URL scheme x.
func (s *Spec) HasScheme(x string) bool { return s.has(x, func(t *Spec) []string { return t.Schemes }) }

// HasHash reports whether verification may use hash function x.
func (s *Spec) HasHash(x string) bool { return s.has(x, func(t *Spec) []string { return t.Hashes }) }

// HasFormat reports whether filesystems may use format x.
func (s *Spec) HasFormat(x string) bool { return s.has(x, func(t *Spec) []string { return t.Formats }) }

// Has reports whether rule r holds in this version.
func (s *Spec) Has(r Rule) bool {
	for t := s; t != nil; t = t.Base {
		if slices.Contains(t.Rules, r) {
			return true
		}
	}
	return false
}

// AllSchemes lists every URL scheme this version allows, oldest first.
func (s *Spec) AllSchemes() []string { return s.all(func(t *Spec) []string { return t.Schemes }) }

// AllHashes lists every hash function this version allows, oldest first.
func (s *Spec) AllHashes() []string { return s.all(func(t *Spec) []string { return t.Hashes }) }

// AllFormats lists every filesystem format this version allows, oldest first.
func (s *Spec) AllFormats() []string { return s.all(func(t *Spec) []string { return t.Formats }) }

func (s *Spec) has(x string, field func(*Spec) []string) bool {
	for t := s; t != nil; t = t.Base {
		if slices.Contains(field(t), x) {
			return true
		}
	}
	return false
}

func (s *Spec) all(field func(*Spec) []string) []string {
	var chain []*Spec
	for t := s; t != nil; t = t.Base {
		chain = append(chain, t)
	}
	var out []string
	for i := len(chain) - 1; i >= 0; i-- {
		out = append(out, field(chain[i])...)
	}
	return out
}
