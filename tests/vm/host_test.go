package vm

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestInterpreter(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		head string
		want []string
	}{
		{"#!/bin/sh -e\necho\n", []string{"/bin/sh"}},
		{"#! /bin/bash\n", []string{"/bin/bash"}},
		{"#!/usr/bin/env bash\n", []string{"/usr/bin/env", "bash"}},
		{"#!/usr/bin/env -S LC_ALL=C python3 -u\n", []string{"/usr/bin/env", "python3"}},
		{"#!\n", nil},
		{"echo no shebang\n", nil},
		{"", nil},
		{"\x7fELF\x02\x01\x01", nil},
	} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte(tc.head), 0o755); err != nil {
			t.Fatal(err)
		}
		got, err := interpreter(p)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("interpreter(%q) = %q, %v; want %q", tc.head, got, err, tc.want)
		}
	}
}

// TestAddHost mirrors a host script reached through symlinks: the links,
// the file, its interpreter and the interpreter's libraries go in; an
// interpreter busybox provides does not.
func TestAddHost(t *testing.T) {
	bash, err := lookPath("bash")
	if err != nil {
		t.Skip(err)
	}
	root := t.TempDir()
	real := filepath.Join(root, "real", "dir")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"bash-script": "#!" + bash + "\necho hi\n",
		"sh-script":   "#!/bin/sh\necho hi\n",
	} {
		if err := os.WriteFile(filepath.Join(real, name), []byte(body), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("real/dir", filepath.Join(root, "rel")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "rel"), filepath.Join(root, "abs")); err != nil {
		t.Fatal(err)
	}

	b := &builder{t: newTree(), busybox: "/usr/bin/busybox", closured: map[string]bool{}}
	if err := b.t.symlink("/bin/sh", "/usr/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	if err := b.addHost(filepath.Join(root, "abs", "bash-script"), false); err != nil {
		t.Fatal(err)
	}
	if err := b.addHost(filepath.Join(root, "abs", "sh-script"), false); err != nil {
		t.Fatal(err)
	}
	nodes := b.t.nodes
	if n := nodes[filepath.Join(root, "abs")]; n == nil || n.target != filepath.Join(root, "rel") {
		t.Errorf("abs link: %+v", n)
	}
	if n := nodes[filepath.Join(root, "rel")]; n == nil || n.target != "real/dir" {
		t.Errorf("rel link: %+v", n)
	}
	script := nodes[filepath.Join(real, "bash-script")]
	if script == nil || script.src != filepath.Join(real, "bash-script") || script.mode != 0o750 {
		t.Errorf("bash-script: %+v", script)
	}
	realBash, err := filepath.EvalSymlinks(bash)
	if err != nil {
		t.Fatal(err)
	}
	if !b.t.has(realBash) {
		t.Errorf("the interpreter %s is missing", realBash)
	}
	libs, err := sharedLibs(realBash)
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) == 0 {
		t.Skip("bash is static here; nothing more to check")
	}
	for _, lib := range libs {
		if !b.t.has(lib) {
			t.Errorf("library %s of bash is missing", lib)
		}
	}
	if n := nodes["/bin/sh"]; n == nil || n.target != "/usr/bin/busybox" {
		t.Errorf("/bin/sh was replaced: %+v", n)
	}
}

func TestMissingHostThings(t *testing.T) {
	b := &builder{t: newTree(), closured: map[string]bool{}}
	for name, err := range map[string]error{
		"tool":       b.addTool("no-such-command-for-vmtest"),
		"extra glob": b.addExtra("/no/such/dir/*.so"),
		"extra path": b.addExtra("/no/such/file"),
	} {
		var me *missingError
		if !errors.As(err, &me) {
			t.Errorf("%s: error %v, want a missingError (the test skips)", name, err)
		}
	}
	if err := b.addExtra("relative/path"); err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Errorf("relative extra: %v", err)
	}
	// A directory is copied recursively, keeping symlinks as they are.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "data"), []byte("x"), 0o644)
	os.Symlink("b/data", filepath.Join(dir, "a", "link"))
	if err := b.addExtra(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	if n := b.t.nodes[filepath.Join(dir, "a", "b", "data")]; n == nil || n.mode.Type() != 0 {
		t.Errorf("a/b/data: %+v", n)
	}
	if n := b.t.nodes[filepath.Join(dir, "a", "link")]; n == nil || n.mode&fs.ModeSymlink == 0 || n.target != "b/data" {
		t.Errorf("a/link: %+v", n)
	}
}

func TestVersionCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"vmlinuz-6.10.0-1-amd64", "vmlinuz-6.9.0-1-amd64", 1},
		{"vmlinuz-6.1.0-56-amd64", "vmlinuz-6.1.0-9-amd64", 1},
		{"vmlinuz-6.1.0-9-amd64", "vmlinuz-6.1.0-9-amd64", 0},
		{"vmlinuz-5.10.0-1-amd64", "vmlinuz-6.1.0-1-amd64", -1},
	} {
		got := versionCompare(tc.a, tc.b)
		if (got > 0) != (tc.want > 0) || (got < 0) != (tc.want < 0) {
			t.Errorf("versionCompare(%s, %s) = %d, want sign %d", tc.a, tc.b, got, tc.want)
		}
	}
}
