package exec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/config/types"
)

func mustParse(t *testing.T, raw string) types.Config {
	t.Helper()
	cfg, rpt, err := config.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("%v\n%s", err, rpt)
	}
	return cfg
}

func TestCacheRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run/nested/ignition.json")
	cfg := mustParse(t, `{
		"ignition": {"version": "3.4.0", "timeouts": {"httpTotal": 30}},
		"storage": {"files": [{"path": "/etc/motd", "mode": 420, "contents": {"source": "data:,hi"}}]},
		"passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA"]}]},
		"systemd": {"units": [{"name": "a.service", "enabled": true, "contents": "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"}]}
	}`)
	if err := WriteCache(path, cfg); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache mode = %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o755 {
		t.Errorf("cache dir mode = %v, want 0755", di.Mode().Perm())
	}
	got, err := ReadCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Errorf("read back %+v, want %+v", got, cfg)
	}

	// Overwriting replaces the whole file and leaves no temporary files.
	cfg2 := mustParse(t, fileConfig("3.4.0", "/other=x"))
	if err := WriteCache(path, cfg2); err != nil {
		t.Fatal(err)
	}
	got, err = ReadCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cfg2) {
		t.Errorf("after overwrite read back %v", paths(got))
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("dir holds %v, want only the cache", names)
	}
}

// A config ReadCache would refuse is not written, and the old cache stays.
func TestWriteCacheRefusesInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ignition.json")
	good := mustParse(t, fileConfig("3.4.0", "/good=x"))
	if err := WriteCache(path, good); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.Ignition.Version = ""
	if err := WriteCache(path, bad); err == nil {
		t.Fatal("an unversioned config was written")
	}
	got, err := ReadCache(path)
	if err != nil || !reflect.DeepEqual(got, good) {
		t.Errorf("old cache lost: %v, %v", paths(got), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("%d entries left in the dir, want 1", len(entries))
	}
}

func TestReadCacheErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	if _, err := ReadCache(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing cache: err = %v, want fs.ErrNotExist", err)
	}
	tests := []struct {
		name, content string
		want          []string
	}{
		{"truncated", `{"ignition": {"version": "3.4.0"}, "storage": {`, []string{"line 1 col"}},
		{"not JSON", "\x00\x01garbage", []string{"line 1 col 1"}},
		{"empty", "", []string{config.ErrEmpty.Error()}},
		{"invalid", `{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "x"}]}}`, []string{"$.storage.files.0.path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ReadCache(path)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append([]string{path, "corrupted"}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}
