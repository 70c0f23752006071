package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/vcontext/report"

	"github.com/ignition-go/ignition/config/internal/decode"
	"github.com/ignition-go/ignition/config/types"
)

func lines(r report.Report) []string {
	var out []string
	for _, e := range r.Entries {
		out = append(out, e.String())
	}
	return out
}

func TestVersionDetection(t *testing.T) {
	for _, tc := range []struct {
		version string // JSON value of ignition.version
		err     error
		line    string // expected report line, if any
	}{
		{`"3.0.0"`, nil, ""},
		{`"3.1.0"`, nil, ""},
		{`"3.2.0"`, nil, ""},
		{`"3.3.0"`, nil, ""},
		{`"3.4.0"`, nil, ""},
		{`"3.5.0"`, nil, ""},
		{`"3.6.0"`, nil, ""},
		{`"3.7.0-experimental"`, nil, ""},
		{`"2.3.0"`, ErrUnknownVersion, "error at $.ignition.version, line 1 col 26: unsupported config version 2.3.0; supported versions are 3.0.0, 3.1.0, 3.2.0, 3.3.0, 3.4.0, 3.5.0, 3.6.0, 3.7.0-experimental"},
		{`"3.9.0"`, ErrUnknownVersion, "unsupported config version 3.9.0"},
		{`"3.7.0"`, ErrUnknownVersion, "unsupported config version 3.7.0"},
		{`"3.5.0-experimental"`, ErrUnknownVersion, "unsupported config version 3.5.0-experimental"},
		{`"3.6.0-experimental"`, ErrUnknownVersion, "unsupported config version 3.6.0-experimental"},
		{`"3.4.0+build"`, ErrUnknownVersion, "unsupported config version 3.4.0+build"},
		{`"3.4"`, ErrInvalidVersion, "error at $.ignition.version, line 1 col 26: invalid config version (couldn't parse)"},
		{`""`, ErrInvalidVersion, "invalid config version (couldn't parse)"},
		{`3`, ErrInvalidVersion, "invalid config version (couldn't parse)"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			raw := `{"ignition": {"version": ` + tc.version + `}}`
			cfg, r, err := Parse([]byte(raw))
			if !errors.Is(err, tc.err) {
				t.Fatalf("got error %v, want %v (report %q)", err, tc.err, lines(r))
			}
			if tc.err == nil {
				// Stable versions translate up to the latest; experimental stays.
				want := Latest.String()
				if strings.Contains(tc.version, "experimental") {
					want = strings.Trim(tc.version, `"`)
				}
				if got := cfg.Ignition.Version; got != want {
					t.Errorf("version %q, want %q", got, want)
				}
				if len(r.Entries) != 0 {
					t.Errorf("unexpected report %q", lines(r))
				}
				return
			}
			if len(r.Entries) != 1 || !strings.Contains(r.Entries[0].String(), tc.line) {
				t.Errorf("report %q, want a line containing %q", lines(r), tc.line)
			}
		})
	}
}

func TestMissingVersion(t *testing.T) {
	for _, raw := range []string{`{}`, `{"ignition": {}}`, `{"ignition": 1}`, `{"storage": {}}`} {
		_, r, err := Parse([]byte(raw))
		if !errors.Is(err, ErrInvalidVersion) || !r.IsFatal() {
			t.Errorf("%s: got %v, report %q", raw, err, lines(r))
		}
	}
}

func TestMalformedInput(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		err       error
		line      string
	}{
		{"empty", "", ErrEmpty, ""},
		{"white space", " \n", ErrInvalid, "error at line 2 col 1: unexpected end of JSON input"},
		{"not JSON", "ignition: {}", ErrInvalid, "error at line 1 col 1: invalid character 'i' looking for beginning of value"},
		{"syntax error in the middle", "{\n  \"ignition\": {\"version\": \"3.4.0\",}\n}", ErrInvalid, "error at line 2 col 35: invalid character '}' looking for beginning of object key string"},
		{"array", `[{"ignition": {"version": "3.4.0"}}]`, ErrInvalid, "error at line 1 col 1: config must be a JSON object, not array"},
		{"string", `"3.4.0"`, ErrInvalid, "config must be a JSON object, not string"},
		{"null", `null`, ErrInvalid, "config must be a JSON object, not null"},
		{"trailing data", `{"ignition": {"version": "3.4.0"}} {}`, ErrInvalid, "error at line 1 col 36: invalid character '{' after top-level value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r, err := Parse([]byte(tc.raw))
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if tc.line == "" {
				if len(r.Entries) != 0 {
					t.Errorf("unexpected report %q", lines(r))
				}
				return
			}
			if len(r.Entries) != 1 || !strings.Contains(r.Entries[0].String(), tc.line) {
				t.Errorf("report %q, want %q", lines(r), tc.line)
			}
		})
	}
}

func TestTypeMismatches(t *testing.T) {
	raw := `{
  "ignition": {"version": "3.4.0", "timeouts": {"httpTotal": "10"}},
  "storage": {
    "files": [{"path": "/a", "mode": 4.5, "overwrite": "yes", "user": []}],
    "disks": {}
  },
  "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ok", 7]}]}
}`
	_, r, err := Parse([]byte(raw))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
	want := []string{
		"error at $.ignition.timeouts.httpTotal, line 2 col 62: type mismatch: expected integer, found string",
		"error at $.storage.files.0.mode, line 4 col 38: type mismatch: expected integer, found 4.5",
		"error at $.storage.files.0.overwrite, line 4 col 56: type mismatch: expected boolean, found string",
		"error at $.storage.files.0.user, line 4 col 71: type mismatch: expected object, found array",
		"error at $.storage.disks, line 5 col 14: type mismatch: expected array, found object",
		"error at $.passwd.users.0.sshAuthorizedKeys.1, line 7 col 69: type mismatch: expected string, found number",
	}
	if got := lines(r); !slices.Equal(got, want) {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNullMeansUnset(t *testing.T) {
	raw := `{"ignition": {"version": "3.4.0", "config": null}, "storage": {"files": [{"path": "/a", "mode": null, "contents": null}]}, "passwd": null}`
	cfg, r, err := Parse([]byte(raw))
	if err != nil {
		t.Fatalf("%v: %q", err, lines(r))
	}
	if cfg.Storage.Files[0].Mode != nil {
		t.Error("null mode should leave the mode unset")
	}
}

func TestUnusedKeys(t *testing.T) {
	raw := `{
  "ignition": {"version": "3.2.0", "Version": "x", "extra": true},
  "storage": {"files": [{"path": "/a", "contnets": {}}]},
  "networkd": {},
  "kernelArguments": {}
}`
	_, r, err := Parse([]byte(raw))
	if err != nil {
		t.Fatalf("unused keys must not invalidate a config: %v", err)
	}
	want := []string{
		"warning at $.ignition.Version, line 2 col 36: unused key Version",
		"warning at $.ignition.extra, line 2 col 52: unused key extra",
		"warning at $.storage.files.0.contnets, line 3 col 40: unused key contnets",
		"warning at $.networkd, line 4 col 3: unused key networkd",
		"warning at $.kernelArguments, line 5 col 3: unused key kernelArguments (it needs spec 3.3.0 or later)",
	}
	if got := lines(r); !slices.Equal(got, want) {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDuplicateKeyLastWins(t *testing.T) {
	raw := `{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/a", "path": "/b"}]}}`
	cfg, r, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Storage.Files[0].Path; got != "/b" {
		t.Errorf("path %q, want the last value /b", got)
	}
	want := "warning at $.storage.files.0.path, line 1 col 73: duplicate key path: earlier values are ignored"
	if got := lines(r); len(got) != 1 || got[0] != want {
		t.Errorf("report %q, want %q", got, want)
	}
}

// TestKeysArriveWithTheirVersion checks every key a version added: the key
// is an unused key in the version before, and accepted from that version on.
func TestKeysArriveWithTheirVersion(t *testing.T) {
	since := keySince()
	for i, s := range Versions {
		for _, key := range s.Keys {
			if i == 0 {
				continue
			}
			prev := Versions[i-1]
			if allowed(since, key, prev) {
				t.Errorf("%s: key %s allowed in %s already", s, key, prev)
			}
			for _, later := range Versions[i:] {
				if !allowed(since, key, later) {
					t.Errorf("key %s added in %s is missing from %s", key, s, later)
				}
			}
		}
	}
	// A concrete end-to-end check through Parse.
	luks := `{"ignition": {"version": "%s"}, "storage": {"luks": [{"name": "x", "device": "/dev/sda"}]}}`
	for _, tc := range []struct {
		version string
		unused  bool
	}{{"3.1.0", true}, {"3.2.0", false}} {
		_, r, _ := Parse([]byte(strings.Replace(luks, "%s", tc.version, 1)))
		got := slices.ContainsFunc(r.Entries, func(e report.Entry) bool {
			return e.Message == "unused key luks (it needs spec 3.2.0 or later)"
		})
		if got != tc.unused {
			t.Errorf("%s: unused key luks reported = %v, want %v (%q)", tc.version, got, tc.unused, lines(r))
		}
	}
}

// TestVersionKeysExist makes sure every key a version lists is a real path
// of the canonical types, and that every path of the types is reachable in
// the newest version (nothing in the model that no version accepts).
func TestVersionKeysExist(t *testing.T) {
	paths := decode.Paths(reflect.TypeFor[types.Config]())
	for _, s := range Versions {
		for _, k := range s.Keys {
			if !slices.Contains(paths, k) {
				t.Errorf("%s lists key %s, which the types do not have", s, k)
			}
		}
	}
	since := keySince()
	newest := Versions[len(Versions)-1]
	for _, p := range paths {
		if !allowed(since, p, newest) {
			t.Errorf("path %s is not accepted by any version", p)
		}
	}
}

func TestParseVersion(t *testing.T) {
	raw := []byte(`{"ignition": {"version": "3.3.0"}}`)
	if _, _, err := ParseVersion(raw, Lookup("3.3.0")); err != nil {
		t.Errorf("3.3.0 parser refused a 3.3.0 config: %v", err)
	}
	if _, _, err := ParseVersion(raw, Lookup("3.4.0")); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("3.4.0 parser accepted a 3.3.0 config: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	raw := make([]byte, MaxSize+1)
	_, _, err := Parse(raw)
	if err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Fatalf("got %v", err)
	}
}

// TestLargeConfig parses a 100 MB config: it must work (within MaxSize) and
// give a clear result, not a crash.
func TestLargeConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	var b strings.Builder
	b.WriteString(`{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/big", "contents": {"source": "data:,`)
	b.WriteString(strings.Repeat("a", 100<<20))
	b.WriteString(`"}}]}}`)
	cfg, r, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("%v %q", err, lines(r))
	}
	if n := len(*cfg.Storage.Files[0].Contents.Source); n != 100<<20+len("data:,") {
		t.Errorf("source is %d bytes", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `[]`, `{"ignition": {"version": "3.4.0"}}`,
		`{"ignition": {"version": "3.0.0"}, "storage": {"files": [{"path": "/a", "mode": 420, "contents": {"source": "data:,x"}}]}}`,
		`{"ignition": {"version": "3.2.0"}, "storage": {"luks": [{"name": "a", "device": "/dev/sda", "clevis": {"tang": [{"url": "http://x"}]}}]}}`,
		`{"ignition": {"version": "3.6.0"}, "systemd": {"units": [{"name": "a.service", "enabled": true, "contents": "[Unit]\n"}]}}`,
		`{"ignition": {"version": "3.3.0"}, "storage": {"disks": [{"device": "/dev/sda", "partitions": [{"number": 1, "startMiB": 1, "sizeMiB": 5}, {"number": 2, "startMiB": 3}]}]}}`,
		`{"ignition": {"version": "3.7.0-experimental"}, "storage": {"filesystems": [{"device": "tag", "format": "virtiofs"}]}}`,
		`{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": "arn:aws:s3:::b/k"}]}}, "kernelArguments": {"shouldExist": ["a"], "shouldNotExist": ["a"]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, r, err := Parse(raw)
		if err == nil && r.IsFatal() {
			t.Fatalf("fatal report without an error: %q", lines(r))
		}
		if err != nil && !reflect.ValueOf(cfg).IsZero() {
			t.Fatal("an invalid config must not be returned")
		}
		for _, e := range r.Entries {
			_ = e.String()
			if e.Marker.StartP == nil {
				t.Fatalf("entry without a position: %s", e)
			}
		}
	})
}
