package platform

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/internal/providers/file"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/resource"
)

func testHost(t *testing.T, env map[string]string) (Host, *bytes.Buffer) {
	t.Helper()
	f, err := resource.New(resource.Options{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	return Host{
		Fetcher: f,
		Log:     log.NewWithSink(log.NewWriterSink(&buf)),
		Getenv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
	}, &buf
}

func TestTable(t *testing.T) {
	names := Names()
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("names not sorted and unique: %v", names)
	}
	for _, p := range platforms {
		if p.Name == "" || p.Fetch == nil {
			t.Errorf("incomplete entry %+v", p)
		}
		got, err := Get(p.Name)
		if err != nil || got.Name != p.Name {
			t.Errorf("Get(%q) = %v, %v", p.Name, got.Name, err)
		}
	}
	if !slices.Contains(names, "file") {
		t.Errorf("no file platform in %v", names)
	}
}

func TestGetUnknown(t *testing.T) {
	for _, name := range []string{"nonesuch", "", "FILE", "file "} {
		_, err := Get(name)
		if err == nil {
			t.Errorf("Get(%q) succeeded", name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, `"`+name+`"`) || !strings.Contains(msg, "known platforms: "+strings.Join(Names(), ", ")) {
			t.Errorf("Get(%q): %v", name, err)
		}
	}
}

func TestFileFromEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "my.ign")
	want := `{"ignition": {"version": "3.4.0"}}`
	if err := os.WriteFile(path, []byte(want), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Get("file")
	if err != nil {
		t.Fatal(err)
	}
	h, logs := testHost(t, map[string]string{file.ConfigFileEnv: path})
	got, err := p.Fetch(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !strings.Contains(logs.String(), path) {
		t.Errorf("path not logged:\n%s", logs)
	}
}

func TestFileDefault(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	p, _ := Get("file")
	for _, env := range []map[string]string{nil, {file.ConfigFileEnv: ""}} {
		h, _ := testHost(t, env)
		if _, err := p.Fetch(context.Background(), h); !errors.Is(err, ErrNoConfig) {
			t.Errorf("env %v, no ./config.ign: err = %v, want ErrNoConfig", env, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.ign"), []byte("default"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range []map[string]string{nil, {file.ConfigFileEnv: ""}} {
		h, _ := testHost(t, env)
		got, err := p.Fetch(context.Background(), h)
		if err != nil || string(got) != "default" {
			t.Errorf("env %v: got %q, %v; want ./config.ign", env, got, err)
		}
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	p, _ := Get("file")

	h, logs := testHost(t, map[string]string{file.ConfigFileEnv: filepath.Join(dir, "missing.ign")})
	_, err := p.Fetch(context.Background(), h)
	if !errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), "missing.ign") {
		t.Errorf("missing file: err = %v, want ErrNoConfig naming it", err)
	}
	if !strings.Contains(logs.String(), "no config file at") {
		t.Errorf("not logged:\n%s", logs)
	}

	// A file that exists but cannot be read is an error, not "no config".
	h, _ = testHost(t, map[string]string{file.ConfigFileEnv: dir})
	_, err = p.Fetch(context.Background(), h)
	if err == nil || errors.Is(err, ErrNoConfig) {
		t.Errorf("directory: err = %v, want a read error", err)
	}

	// An empty file is returned as it is; the caller decides.
	empty := filepath.Join(dir, "empty.ign")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h, _ = testHost(t, map[string]string{file.ConfigFileEnv: empty})
	got, err := p.Fetch(context.Background(), h)
	if err != nil || len(got) != 0 {
		t.Errorf("empty file: %q, %v", got, err)
	}
}
