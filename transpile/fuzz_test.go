package transpile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ignition-go/ignition/config"
)

// FuzzTranspile feeds arbitrary YAML to Translate. It must not panic; a
// success must be a valid Ignition config of the version's spec with no
// error in its report; a failure must have an error in its report; and
// every entry's line must exist in the input.
func FuzzTranspile(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/golden/*.bu")
	examples, _ := filepath.Glob("../examples/*.bu")
	for _, p := range append(seeds, examples...) {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	for _, s := range []string{
		"", "{}", "[]", "variant: fcos\n", "variant: fcos\nversion: 1.5.0\n",
		"variant: fcos\nversion: 1.5.0\nstorage: {files: [{path: /a, contents: {inline: &x y}}, {path: /b, contents: {inline: *x}}]}\n",
		"variant: fcos\nversion: 1.5.0\n\tstorage: {}\n",
		"#cloud-config\n",
		`{"ignition": {"version": "3.4.0"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := Translate(src, Options{FilesDirs: []string{filesDir}})
		lines := len(splitLines(src))
		for _, e := range res.Report.Entries {
			if e.Line < 0 || e.Line > lines {
				t.Fatalf("entry %q at line %d of a %d-line input", e.Raw(), e.Line, lines)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if !res.Report.IsFatal() {
				t.Fatalf("failed without an error entry: %v\n%s", err, raw(res.Report))
			}
			return
		}
		if res.Report.IsFatal() {
			t.Fatalf("succeeded with an error entry:\n%s", raw(res.Report))
		}
		if _, r, err := config.ParseVersion(res.JSON, res.Version.Ignition); err != nil {
			t.Fatalf("output is not a valid %s config: %v\n%s\n%s", res.Version.Ignition, err, r, res.JSON)
		}
	})
}
