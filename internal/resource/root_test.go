package resource

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestWritesStayInsideTheRoot: with FileOptions.Root, a symlink in the
// target that points outside it must not be followed, while one that
// stays inside works as usual.
func TestWritesStayInsideTheRoot(t *testing.T) {
	outside := t.TempDir()
	rootDir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(rootDir, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(rootDir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(rootDir, "inside")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	f, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{URL: "data:,payload", Path: "storage.files.0.contents"}
	ctx := context.Background()

	// "escape" is an absolute symlink to a host directory.
	if err := f.FetchToFile(ctx, req, "escape/motd", FileOptions{Root: root}); err == nil {
		t.Error("a symlink leading out of the root was followed")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside the root: %v", entries)
	}

	if err := f.FetchToFile(ctx, req, "inside/motd", FileOptions{Root: root, Mode: 0o600}); err != nil {
		t.Fatalf("a symlink inside the root: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(rootDir, "real", "motd"))
	if err != nil || string(got) != "payload" {
		t.Fatalf("got %q, %v", got, err)
	}

	// FetchAll takes the root through the job's FileOptions.
	jobs := []Job{
		{Request: req, Dest: "real/a", FileOptions: FileOptions{Root: root}},
		{Request: req, Dest: "escape/b", FileOptions: FileOptions{Root: root}},
	}
	if err := f.FetchAll(ctx, jobs); err == nil {
		t.Error("FetchAll followed a symlink out of the root")
	}
	if _, err := os.Stat(filepath.Join(rootDir, "real", "a")); err != nil {
		t.Errorf("the job inside the root was not written: %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("FetchAll wrote outside the root: %v", entries)
	}
}
