package vm

// Copying host programs into the guest: a program is copied at the path it
// has on the host, with every symlink met on the way (so /sbin/mkfs.ext4 ->
// mke2fs and /lib -> usr/lib look the same in the guest), the shared
// libraries ldd names for it, and the interpreter of a #! script.

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// missingError is a host dependency that is not installed; Run skips the
// test on it rather than failing.
type missingError struct{ what string }

func (e *missingError) Error() string { return e.what }

// builder fills a tree from the host.
type builder struct {
	t        *tree
	busybox  string          // guest path of busybox, the target of its applet links
	closured map[string]bool // host files whose libraries and interpreter are already in
}

// lookPath finds a host command the way the guest will: in PATH and in the
// sbin directories, which PATH often lacks for non-root users.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		if _, err := os.Stat(name); err != nil {
			return "", &missingError{fmt.Sprintf("host command %s: %v", name, err)}
		}
		return filepath.Abs(name)
	}
	dirs := append(filepath.SplitList(os.Getenv("PATH")),
		"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
	for _, d := range dirs {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &missingError{fmt.Sprintf("host command %q is not installed (not in PATH or the sbin directories)", name)}
}

// addTool copies a host command and what it needs to run.
func (b *builder) addTool(name string) error {
	p, err := lookPath(name)
	if err != nil {
		return err
	}
	return b.addHost(p, false)
}

// addExtra copies a host file, a directory (recursively) or every match of
// a glob pattern.
func (b *builder) addExtra(pattern string) error {
	if !filepath.IsAbs(pattern) {
		return fmt.Errorf("extra host path %q is not absolute", pattern)
	}
	matches := []string{pattern}
	if strings.ContainsAny(pattern, "*?[") {
		var err error
		if matches, err = filepath.Glob(pattern); err != nil {
			return fmt.Errorf("extra host path %q: %w", pattern, err)
		}
	}
	if len(matches) == 0 {
		return &missingError{fmt.Sprintf("extra host path %q matches nothing", pattern)}
	}
	for _, m := range matches {
		if err := b.addHost(m, true); err != nil {
			return err
		}
	}
	return nil
}

// addHost mirrors host path p into the guest at the same path, recreating
// the symlinks along it. recursive copies a directory's contents too.
func (b *builder) addHost(p string, recursive bool) error {
	real, err := b.addLinks(filepath.Clean(p))
	if err != nil {
		return err
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return fmt.Errorf("host path %s: %w", p, err)
	}
	switch {
	case fi.IsDir():
		if !recursive {
			return b.t.dir(real)
		}
		return filepath.WalkDir(real, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				return b.t.dir(q)
			case d.Type()&fs.ModeSymlink != 0:
				target, err := os.Readlink(q)
				if err != nil {
					return err
				}
				return b.t.symlink(q, target)
			case d.Type().IsRegular():
				fi, err := d.Info()
				if err != nil {
					return err
				}
				return b.addRegular(q, fi)
			default:
				return nil // sockets and device nodes are not data
			}
		})
	case fi.Mode().IsRegular():
		return b.addRegular(real, fi)
	default:
		return fmt.Errorf("host path %s: cannot copy a %v", p, fi.Mode().Type())
	}
}

// addLinks records every symlink on the way to p and returns the path with
// all of them resolved.
func (b *builder) addLinks(p string) (string, error) {
	for hops := 0; hops < 40; hops++ {
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		cur := "/"
		redirected := false
		for i, c := range parts {
			next := filepath.Join(cur, c)
			fi, err := os.Lstat(next)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return "", &missingError{fmt.Sprintf("host path %s does not exist", p)}
				}
				return "", fmt.Errorf("host path %s: %w", p, err)
			}
			if fi.Mode()&fs.ModeSymlink == 0 {
				cur = next
				continue
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", fmt.Errorf("host path %s: %w", next, err)
			}
			if err := b.t.symlink(next, target); err != nil {
				return "", err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			p = filepath.Join(append([]string{target}, parts[i+1:]...)...)
			redirected = true
			break
		}
		if !redirected {
			return p, nil
		}
	}
	return "", fmt.Errorf("host path %s: too many symlinks", p)
}

func (b *builder) addRegular(p string, fi fs.FileInfo) error {
	if err := b.t.putHost(p, fi.Mode()); err != nil {
		return err
	}
	return b.addNeeds(p)
}

// addNeeds adds the shared libraries of an ELF file or the interpreter of
// a script.
func (b *builder) addNeeds(p string) error {
	if b.closured[p] {
		return nil
	}
	b.closured[p] = true
	libs, err := sharedLibs(p)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		// ldd lists the whole closure, so a library's own needs are in
		// the list already.
		b.closured[lib] = true
		real, err := b.addLinks(lib)
		if err != nil {
			return fmt.Errorf("library %s of %s: %w", lib, p, err)
		}
		fi, err := os.Stat(real)
		if err != nil {
			return fmt.Errorf("library %s of %s: %w", lib, p, err)
		}
		if err := b.t.putHost(real, fi.Mode()); err != nil {
			return err
		}
	}
	interp, err := interpreter(p)
	if err != nil || len(interp) == 0 {
		return err
	}
	for _, name := range interp {
		if !strings.Contains(name, "/") {
			if name, err = lookPath(name); err != nil {
				return fmt.Errorf("interpreter of %s: %w", p, err)
			}
		}
		if b.isApplet(name) {
			continue // the guest's /bin/sh is busybox, on purpose
		}
		if err := b.addTool(name); err != nil {
			return fmt.Errorf("interpreter of %s: %w", p, err)
		}
	}
	return nil
}

// isApplet reports whether guest path p is one of busybox's applet links.
func (b *builder) isApplet(p string) bool {
	rp, err := b.t.resolve(p)
	if err != nil {
		return false
	}
	n, ok := b.t.nodes[rp]
	return ok && n.mode&fs.ModeSymlink != 0 && n.target == b.busybox
}

// putHost adds the regular host file p at the same guest path.
func (t *tree) putHost(p string, mode fs.FileMode) error {
	_, err := t.put(p, &node{mode: mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), src: p})
	return err
}

// interpreter returns the command a #! script runs, and for "#!/usr/bin/env
// prog" also prog.
func interpreter(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 256)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	head = head[:n]
	if !bytes.HasPrefix(head, []byte("#!")) {
		return nil, nil
	}
	line, _, _ := bytes.Cut(head[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return nil, nil
	}
	out := []string{fields[0]}
	if filepath.Base(fields[0]) == "env" {
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "-") && !strings.Contains(f, "=") {
				out = append(out, f)
				break
			}
		}
	}
	return out, nil
}

// lddCache holds sharedLibs results for the life of the test binary: the
// same tools go into many guests.
var lddCache sync.Map // host path -> lddResult

type lddResult struct {
	libs []string
	err  error
}

// sharedLibs returns the host paths of the shared libraries (and the
// dynamic loader) a dynamically linked ELF file needs; nil for anything
// else.
func sharedLibs(p string) ([]string, error) {
	if r, ok := lddCache.Load(p); ok {
		return r.(lddResult).libs, r.(lddResult).err
	}
	libs, err := runLdd(p)
	lddCache.Store(p, lddResult{libs, err})
	return libs, err
}

func runLdd(p string) ([]string, error) {
	f, err := elf.Open(p)
	if err != nil {
		return nil, nil // not ELF
	}
	dynamic := false
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_DYNAMIC {
			dynamic = true
		}
	}
	f.Close()
	if !dynamic {
		return nil, nil
	}
	out, err := exec.Command("ldd", p).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w: %s", p, err, bytes.TrimSpace(out))
	}
	var libs []string
	for line := range strings.Lines(string(out)) {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)",
		// "/lib64/ld-linux-x86-64.so.2 (0x…)" or "linux-vdso.so.1 (0x…)".
		line = strings.TrimSpace(line)
		if _, rest, ok := strings.Cut(line, "=>"); ok {
			line = strings.TrimSpace(rest)
		}
		if strings.HasPrefix(line, "not found") {
			return nil, &missingError{fmt.Sprintf("ldd %s: a library is not found: %s", p, bytes.TrimSpace(out))}
		}
		lib, _, _ := strings.Cut(line, " ")
		if filepath.IsAbs(lib) {
			libs = append(libs, lib)
		}
	}
	return libs, nil
}
