// Package config turns raw config bytes into the canonical config: it finds
// the spec version, parses with line:column context, keeps only the keys that
// version defines, validates every rule of that version and reports where
// each problem is.
//
// Code above config/ sees only config/types; older versions reach it by
// version gating (a key or value a version lacks is reported, not silently
// kept), which is all that translating 3.x configs up takes.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"

	"github.com/coreos/go-semver/semver"
	"github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"

	"github.com/ignition-go/ignition/config/internal/decode"
	"github.com/ignition-go/ignition/config/internal/jsontree"
	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/types"
	v3_0 "github.com/ignition-go/ignition/config/v3_0"
	v3_1 "github.com/ignition-go/ignition/config/v3_1"
	v3_2 "github.com/ignition-go/ignition/config/v3_2"
	v3_3 "github.com/ignition-go/ignition/config/v3_3"
	v3_4 "github.com/ignition-go/ignition/config/v3_4"
	v3_5 "github.com/ignition-go/ignition/config/v3_5"
	v3_6 "github.com/ignition-go/ignition/config/v3_6"
	v3_7exp "github.com/ignition-go/ignition/config/v3_7_experimental"
	"github.com/ignition-go/ignition/config/validation"
)

// Versions lists every accepted spec, oldest first.
var Versions = []*spec.Spec{
	&v3_0.Spec, &v3_1.Spec, &v3_2.Spec, &v3_3.Spec,
	&v3_4.Spec, &v3_5.Spec, &v3_6.Spec, &v3_7exp.Spec,
}

// Latest is the newest stable spec, the one new configs should use.
var Latest = &v3_6.Spec

var (
	// ErrInvalid is returned when the report has an error.
	ErrInvalid = errors.New("config is not valid")
	// ErrEmpty is returned for an empty config.
	ErrEmpty = errors.New("not a config (empty)")
	// ErrUnknownVersion is returned for a version we do not accept.
	ErrUnknownVersion = errors.New("unsupported config version")
	// ErrInvalidVersion is returned when ignition.version is missing or not semver.
	ErrInvalidVersion = errors.New("invalid config version (couldn't parse)")
)

// MaxSize bounds the config size we parse; a larger config is refused with
// a clear error instead of exhausting memory in the initramfs.
const MaxSize = 256 << 20

// Lookup returns the spec for an exact version string, or nil.
func Lookup(version string) *spec.Spec {
	for _, s := range Versions {
		if s.String() == version {
			return s
		}
	}
	return nil
}

// SupportedVersions is a human list of every accepted version.
func SupportedVersions() string {
	names := make([]string, len(Versions))
	for i, s := range Versions {
		names[i] = s.String()
	}
	return strings.Join(names, ", ")
}

// Parse parses and validates a config of any supported version and returns
// it translated up to the canonical model: ignition.version is Latest for
// every stable version (an experimental config keeps its own). The report
// holds every problem found, each with its path and line:column; the error
// is non-nil when the config cannot be used.
func Parse(raw []byte) (types.Config, report.Report, error) {
	return parse(raw, nil)
}

// ParseVersion is Parse restricted to one spec version: a config of any
// other version is refused.
func ParseVersion(raw []byte, s *spec.Spec) (types.Config, report.Report, error) {
	return parse(raw, s)
}

func parse(raw []byte, only *spec.Spec) (types.Config, report.Report, error) {
	var r report.Report
	// Only truly empty input is "empty"; white space is a JSON error, as upstream.
	if len(raw) == 0 {
		return types.Config{}, r, ErrEmpty
	}
	if len(raw) > MaxSize {
		return types.Config{}, r, fmt.Errorf("config is %d bytes, more than the %d bytes allowed", len(raw), MaxSize)
	}
	root, err := jsontree.Parse(raw)
	if err != nil {
		var se *jsontree.SyntaxError
		if errors.As(err, &se) {
			r.Entries = append(r.Entries, report.Entry{Kind: report.Error, Message: se.Msg, Marker: markerAt(raw, se.Offset)})
		}
		return types.Config{}, r, ErrInvalid
	}

	s, err := detect(&root, &r)
	if err == nil && only != nil && s != only {
		r.AddOnError(path.New("json", "ignition", "version"), fmt.Errorf("%w: this parser accepts only %s", ErrUnknownVersion, only))
		err = ErrUnknownVersion
	}
	if err != nil {
		correlate(&r, &root, raw)
		return types.Config{}, r, err
	}

	var cfg types.Config
	decoded := schemaFor(s).Decode(&root, &cfg)
	// Type errors first, then the rules, then unused keys, as upstream orders
	// them. A value of the wrong type was left unset, so the rules would
	// only repeat it as "missing": they run on well-typed configs only.
	r.Merge(entriesOf(decoded, true))
	if !decoded.IsFatal() {
		r.Merge(validation.Validate(&cfg, s))
	}
	r.Merge(entriesOf(decoded, false))
	correlate(&r, &root, raw)
	if r.IsFatal() {
		return types.Config{}, r, ErrInvalid
	}
	// Translating up: every 3.x key means the same in later versions, so
	// the canonical config is the same data under the latest version.
	if !s.Experimental() {
		cfg.Ignition.Version = Latest.String()
	}
	return cfg, r, nil
}

// detect finds the spec named by ignition.version.
func detect(root *jsontree.Node, r *report.Report) (*spec.Spec, error) {
	at := path.New("json", "ignition", "version")
	if root.Kind != jsontree.Object {
		r.AddOnError(path.New("json"), fmt.Errorf("config must be a JSON object, not %s", root.Kind))
		return nil, ErrInvalid
	}
	var vn *jsontree.Node
	if ign := root.Get("ignition"); ign != nil && ign.Kind == jsontree.Object {
		vn = ign.Get("version")
	}
	if vn == nil || vn.Kind != jsontree.String {
		r.AddOnError(at, ErrInvalidVersion)
		return nil, ErrInvalidVersion
	}
	v, err := semver.NewVersion(vn.Text)
	if err != nil {
		r.AddOnError(at, ErrInvalidVersion)
		return nil, ErrInvalidVersion
	}
	s := Lookup(v.String())
	if s == nil {
		r.AddOnError(at, fmt.Errorf("%w %s; supported versions are %s", ErrUnknownVersion, v, SupportedVersions()))
		return nil, ErrUnknownVersion
	}
	return s, nil
}

var schemas = sync.OnceValue(func() map[*spec.Spec]*decode.Schema {
	since := keySince()
	m := make(map[*spec.Spec]*decode.Schema, len(Versions))
	for _, s := range Versions {
		m[s] = decode.Compile(reflect.TypeFor[types.Config](), func(p string) (bool, string) {
			if allowed(since, p, s) {
				return true, ""
			}
			return false, addedIn(since, p, s)
		})
	}
	return m
})

func schemaFor(s *spec.Spec) *decode.Schema { return schemas()[s] }

// keySince maps each key path some version lists to the spec that added it.
func keySince() map[string]*spec.Spec {
	since := map[string]*spec.Spec{}
	for _, s := range Versions {
		for _, k := range s.Keys {
			if _, ok := since[k]; !ok {
				since[k] = s
			}
		}
	}
	return since
}

// addedIn names the oldest stable version after s that has key path p, or
// "" if none does (experimental versions are not suggested).
func addedIn(since map[string]*spec.Spec, p string, s *spec.Spec) string {
	for _, later := range Versions {
		if s.Version.LessThan(later.Version) && !later.Experimental() && allowed(since, p, later) {
			return later.String()
		}
	}
	return ""
}

// allowed reports whether key path p exists in spec s: the nearest listed
// ancestor-or-self of p must have been added by s or a version before it.
func allowed(since map[string]*spec.Spec, p string, s *spec.Spec) bool {
	for {
		if added, ok := since[p]; ok {
			return !s.Version.LessThan(added.Version)
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// entriesOf returns the fatal (or non-fatal) entries of r.
func entriesOf(r report.Report, fatal bool) report.Report {
	var out report.Report
	for _, e := range r.Entries {
		if e.Kind.IsFatal() == fatal {
			out.Entries = append(out.Entries, e)
		}
	}
	return out
}

// ReadFile reads a config file, but at most one byte more than MaxSize, so
// that a huge file is refused by Parse with a clear message without being
// read whole. Errors keep the file system's (errors.Is(err, fs.ErrNotExist)).
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := ReadFrom(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return raw, nil
}

// ReadFrom reads a config from r the way ReadFile reads a file: at most
// one byte more than MaxSize.
func ReadFrom(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, MaxSize+1))
}
