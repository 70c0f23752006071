package files

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// storage returns a 3.6.0 config with the given storage section.
func storage(section string) string {
	return `{"ignition":{"version":"3.6.0"},"storage":` + section + `}`
}

func TestFilesOverwrite(t *testing.T) {
	type setup func(fx *fixture)
	file := func(contents string, mode os.FileMode) setup {
		return func(fx *fixture) { fx.write("etc/foo", contents, mode) }
	}
	dir := func(fx *fixture) { fx.write("etc/foo/inside", "x", 0o644) }
	link := func(fx *fixture) {
		fx.write("etc/real", "real", 0o644)
		fx.symlink("real", "etc/foo")
	}
	for _, tc := range []struct {
		name    string
		setup   setup
		entry   string // the files entry, JSON
		wantErr string
		want    string      // contents of /etc/foo afterwards
		mode    fs.FileMode // its mode
		check   func(t *testing.T, fx *fixture)
	}{
		{
			name:  "new file",
			entry: `{"path":"/etc/foo","contents":{"source":"` + dataURL("new") + `"}}`,
			want:  "new", mode: 0o644,
		},
		{
			name:  "new file without contents is empty",
			entry: `{"path":"/etc/foo"}`,
			want:  "", mode: 0o644,
		},
		{
			name:  "new file with empty source is empty",
			entry: `{"path":"/etc/foo","contents":{"source":""},"mode":384}`,
			want:  "", mode: 0o600,
		},
		{
			name:    "existing file, overwrite false, contents",
			setup:   file("old", 0o600),
			entry:   `{"path":"/etc/foo","contents":{"source":"` + dataURL("new") + `"}}`,
			wantErr: "storage.files.0 (/etc/foo): a file exists and overwrite is false",
			want:    "old", mode: 0o600,
		},
		{
			name:  "existing file, overwrite false, no contents: left alone",
			setup: file("old", 0o600),
			entry: `{"path":"/etc/foo","mode":493,"user":{"id":4242}}`,
			want:  "old", mode: 0o600,
			check: func(t *testing.T, fx *fixture) {
				if o := fx.owner("etc/foo"); o[0] == 4242 {
					t.Error("the owner of a file left alone was changed")
				}
			},
		},
		{
			name:  "existing file, overwrite true",
			setup: file("old", 0o600),
			entry: `{"path":"/etc/foo","overwrite":true,"contents":{"source":"` + dataURL("new") + `"}}`,
			want:  "new", mode: 0o644,
		},
		{
			name:    "directory in the way, overwrite false",
			setup:   dir,
			entry:   `{"path":"/etc/foo","contents":{"source":"` + dataURL("new") + `"}}`,
			wantErr: "storage.files.0 (/etc/foo): a directory is in the way and overwrite is false",
			check: func(t *testing.T, fx *fixture) {
				if fx.read("etc/foo/inside") != "x" {
					t.Error("the directory was changed")
				}
			},
		},
		{
			name:  "directory in the way, overwrite true",
			setup: dir,
			entry: `{"path":"/etc/foo","overwrite":true,"contents":{"source":"` + dataURL("new") + `"}}`,
			want:  "new", mode: 0o644,
		},
		{
			name:    "symlink in the way, overwrite false, no contents",
			setup:   link,
			entry:   `{"path":"/etc/foo"}`,
			wantErr: "storage.files.0 (/etc/foo): a symlink is in the way and overwrite is false",
			check: func(t *testing.T, fx *fixture) {
				if fx.lstat("etc/foo").Mode()&fs.ModeSymlink == 0 {
					t.Error("the symlink was replaced")
				}
			},
		},
		{
			name:  "symlink in the way, overwrite true: the link is replaced, not followed",
			setup: link,
			entry: `{"path":"/etc/foo","overwrite":true,"contents":{"source":"` + dataURL("new") + `"}}`,
			want:  "new", mode: 0o644,
			check: func(t *testing.T, fx *fixture) {
				if !fx.lstat("etc/foo").Mode().IsRegular() {
					t.Error("/etc/foo is not a regular file")
				}
				if got := fx.read("etc/real"); got != "real" {
					t.Errorf("the link's target was written: %q", got)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.mkdir("etc")
			if tc.setup != nil {
				tc.setup(fx)
			}
			err := fx.run(storage(`{"files":[` + tc.entry + `]}`))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.mode != 0 {
				if got := fx.read("etc/foo"); got != tc.want {
					t.Errorf("contents %q, want %q", got, tc.want)
				}
				if got := fx.mode("etc/foo"); got != tc.mode {
					t.Errorf("mode %v, want %v", got, tc.mode)
				}
			}
			if tc.check != nil {
				tc.check(t, fx)
			}
			if tmp := fx.tempFiles(); len(tmp) != 0 {
				t.Errorf("temp files left: %v", tmp)
			}
		})
	}
}

func TestFilesAppend(t *testing.T) {
	frags := `"append":[{"source":"` + dataURL("one\n") + `"},{"source":"` + dataURL("two\n") + `"}]`
	for _, tc := range []struct {
		name     string
		existing string // "" for none
		entry    string
		want     string
		mode     fs.FileMode
	}{
		{"to an existing file, keeping its mode", "old\n", `{"path":"/etc/foo",` + frags + `}`, "old\none\ntwo\n", 0o640},
		{"to an existing file, with a new mode", "old\n", `{"path":"/etc/foo","mode":384,` + frags + `}`, "old\none\ntwo\n", 0o600},
		{"to a new file", "", `{"path":"/etc/foo",` + frags + `}`, "one\ntwo\n", 0o644},
		{"to new contents", "", `{"path":"/etc/foo","contents":{"source":"` + dataURL("new\n") + `"},` + frags + `}`, "new\none\ntwo\n", 0o644},
		{"to new contents over an existing file", "old\n", `{"path":"/etc/foo","overwrite":true,"contents":{"source":"` + dataURL("new\n") + `"},` + frags + `}`, "new\none\ntwo\n", 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.mkdir("etc")
			if tc.existing != "" {
				fx.write("etc/foo", tc.existing, 0o640)
			}
			before := fx.exists("etc/foo")
			var owner [2]int
			if before {
				owner = fx.owner("etc/foo")
			}
			if err := fx.run(storage(`{"files":[` + tc.entry + `]}`)); err != nil {
				t.Fatal(err)
			}
			if got := fx.read("etc/foo"); got != tc.want {
				t.Errorf("contents %q, want %q", got, tc.want)
			}
			if got := fx.mode("etc/foo"); got != tc.mode {
				t.Errorf("mode %v, want %v", got, tc.mode)
			}
			switch got := fx.owner("etc/foo"); {
			case before && !strings.Contains(tc.entry, "overwrite") && got != owner:
				t.Errorf("appending changed the owner to %v from %v", got, owner)
			case (!before || strings.Contains(tc.entry, "overwrite")) && got != [2]int{0, 0}:
				t.Errorf("new file owned by %v, want 0:0", got)
			}
			if tmp := fx.tempFiles(); len(tmp) != 0 {
				t.Errorf("temp files left: %v", tmp)
			}
		})
	}
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode int
		want fs.FileMode
	}{
		{0o755, 0o755},
		{0o600, 0o600},
		{0o4755, 0o755 | fs.ModeSetuid},
		{0o2755, 0o755 | fs.ModeSetgid},
		{0o1777, 0o777 | fs.ModeSticky},
		{0o6711, 0o711 | fs.ModeSetuid | fs.ModeSetgid},
	} {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			fx := newFixture(t)
			// Owners are set too (by name), so that with privileges the
			// chown really comes before the chmod that keeps the bits.
			fx.write("etc/passwd", "core:x:1000:1000::/home/core:/bin/bash\n", 0o644)
			fx.write("etc/group", "core:x:1000:\n", 0o644)
			err := fx.run(storage(fmt.Sprintf(`{
				"files":[{"path":"/opt/f","mode":%d,"user":{"name":"core"},"group":{"name":"core"}}],
				"directories":[{"path":"/opt/d","mode":%d,"user":{"name":"core"}}]}`, tc.mode, tc.mode)))
			if err != nil {
				t.Fatal(err)
			}
			if got := fx.mode("opt/f"); got != tc.want {
				t.Errorf("file mode %v, want %v", got, tc.want)
			}
			if got := fx.mode("opt/d"); got != tc.want {
				t.Errorf("directory mode %v, want %v", got, tc.want)
			}
			if got := fx.owner("opt/f"); got != [2]int{1000, 1000} {
				t.Errorf("file owner %v", got)
			}
		})
	}
}

func TestDefaultModesAndLeadingDirectories(t *testing.T) {
	fx := newFixture(t)
	err := fx.run(storage(`{
		"files":[{"path":"/a/b/file"}],
		"directories":[{"path":"/x/y/dir"}],
		"links":[{"path":"/l/m/link","target":"/a/b/file"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{
		"a": 0o755, "a/b": 0o755, "a/b/file": 0o644,
		"x": 0o755, "x/y": 0o755, "x/y/dir": 0o755,
		"l": 0o755, "l/m": 0o755,
	} {
		if got := fx.mode(p); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
		if got := fx.owner(p); got != [2]int{0, 0} {
			t.Errorf("%s: owner %v, want 0:0", p, got)
		}
	}
	if got := fx.owner("l/m/link"); got != [2]int{0, 0} {
		t.Errorf("link owner %v, want 0:0", got)
	}
}

func TestDirectories(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(fx *fixture)
		entry   string
		wantErr string
		check   func(t *testing.T, fx *fixture)
	}{
		{
			name:  "existing, overwrite false: only the mode given is set, contents kept",
			setup: func(fx *fixture) { fx.write("srv/d/keep", "k", 0o644); os.Chmod(fx.host("srv/d"), 0o700) },
			entry: `{"path":"/srv/d","mode":488}`,
			check: func(t *testing.T, fx *fixture) {
				if got := fx.mode("srv/d"); got != 0o750 {
					t.Errorf("mode %v, want 0750", got)
				}
				if fx.read("srv/d/keep") != "k" {
					t.Error("contents lost")
				}
			},
		},
		{
			name:  "existing, overwrite false, no mode: mode kept",
			setup: func(fx *fixture) { fx.mkdir("srv/d"); os.Chmod(fx.host("srv/d"), 0o700) },
			entry: `{"path":"/srv/d"}`,
			check: func(t *testing.T, fx *fixture) {
				if got := fx.mode("srv/d"); got != 0o700 {
					t.Errorf("mode %v, want 0700", got)
				}
			},
		},
		{
			name:    "file in the way, overwrite false",
			setup:   func(fx *fixture) { fx.write("srv/d", "f", 0o644) },
			entry:   `{"path":"/srv/d"}`,
			wantErr: "storage.directories.0 (/srv/d): a file is in the way and overwrite is false",
			check: func(t *testing.T, fx *fixture) {
				if fx.read("srv/d") != "f" {
					t.Error("the file was changed")
				}
			},
		},
		{
			name:  "file in the way, overwrite true",
			setup: func(fx *fixture) { fx.write("srv/d", "f", 0o644) },
			entry: `{"path":"/srv/d","overwrite":true}`,
			check: func(t *testing.T, fx *fixture) {
				if !fx.lstat("srv/d").IsDir() || fx.mode("srv/d") != 0o755 {
					t.Errorf("not a 0755 directory: %v", fx.lstat("srv/d").Mode())
				}
			},
		},
		{
			name:  "existing, overwrite true: replaced by an empty one",
			setup: func(fx *fixture) { fx.write("srv/d/old", "o", 0o644) },
			entry: `{"path":"/srv/d","overwrite":true,"mode":448}`,
			check: func(t *testing.T, fx *fixture) {
				if fx.exists("srv/d/old") {
					t.Error("the old directory's contents survived")
				}
				if got := fx.mode("srv/d"); got != 0o700 {
					t.Errorf("mode %v", got)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			tc.setup(fx)
			err := fx.run(storage(`{"directories":[` + tc.entry + `]}`))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			tc.check(t, fx)
		})
	}
}

// TestOwnersFromTheTarget: names are looked up in the target's passwd and
// group, never the host's. The names used exist nowhere else.
func TestOwnersFromTheTarget(t *testing.T) {
	setup := func(fx *fixture) {
		fx.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n# comment\nzq-ignition-svc:x:4321:4000::/var/lib/svc:/sbin/nologin\n", 0o644)
		fx.write("etc/group", "root:x:0:\nzq-ignition-grp:x:4555:zq-ignition-svc\n", 0o644)
	}
	for _, tc := range []struct {
		name    string
		entry   string
		want    [2]int
		wantErr string
	}{
		{"user and group by name", `"user":{"name":"zq-ignition-svc"},"group":{"name":"zq-ignition-grp"}`, [2]int{4321, 4555}, ""},
		{"user by name only: group 0", `"user":{"name":"zq-ignition-svc"}`, [2]int{4321, 0}, ""},
		{"by id", `"user":{"id":77},"group":{"id":88}`, [2]int{77, 88}, ""},
		{"unknown user", `"user":{"name":"zq-nobody"}`, [2]int{}, `storage.files.1 (/etc/b): user "zq-nobody" not found in the target's /etc/passwd`},
		{"unknown group", `"group":{"name":"zq-nogroup"}`, [2]int{}, `storage.files.1 (/etc/b): group "zq-nogroup" not found in the target's /etc/group`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			setup(fx)
			err := fx.run(storage(`{"files":[{"path":"/etc/a"},{"path":"/etc/b",` + tc.entry + `}]}`))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if fx.exists("etc/b") {
					t.Error("/etc/b was written anyway")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fx.owner("etc/b"); got != tc.want {
				t.Errorf("owner %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSymlinksInTheTarget: paths resolve as if chrooted into the root. An
// absolute symlink means the target's own path; a relative one that
// climbs out of the root is refused. Nothing lands outside.
func TestSymlinksInTheTarget(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		link    string // target of the symlink /etc/escape
		wantErr string
		landed  string // where /etc/escape/motd ends up, in the root
	}{
		{name: "absolute link to a host directory is taken inside the root", link: outside, landed: filepath.Join(outside, "motd")[1:]},
		{name: "absolute link inside the target", link: "/usr/etc", landed: "usr/etc/motd"},
		{name: "relative link inside the target", link: "../usr/etc", landed: "usr/etc/motd"},
		{name: "relative link climbing out is refused", link: strings.Repeat("../", 30) + outside[1:], wantErr: "storage.files.0 (/etc/escape/motd): a symlink leads out of the target root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.mkdir("usr/etc")
			fx.symlink(tc.link, "etc/escape")
			err := fx.run(storage(`{
				"files":[{"path":"/etc/escape/motd","contents":{"source":"` + dataURL("hello") + `"}}],
				"directories":[{"path":"/etc/escape/dir"}],
				"links":[{"path":"/etc/escape/link","target":"/x"}]}`))
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Fatalf("wrote outside the root: %v", entries)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fx.read(tc.landed); got != "hello" {
				t.Errorf("%s: %q", tc.landed, got)
			}
			if !fx.lstat(filepath.Join(filepath.Dir(tc.landed), "dir")).IsDir() {
				t.Error("the directory is not beside the file")
			}
			if fx.lstat(filepath.Join(filepath.Dir(tc.landed), "link")).Mode()&fs.ModeSymlink == 0 {
				t.Error("the link is not beside the file")
			}
		})
	}
	// Directories and links are refused the same way.
	for _, section := range []string{
		`{"directories":[{"path":"/etc/escape/dir"}]}`,
		`{"links":[{"path":"/etc/escape/link","target":"/x"}]}`,
		`{"links":[{"path":"/etc/hard","target":"/etc/escape/passwd","hard":true}]}`,
	} {
		fx := newFixture(t)
		fx.symlink(strings.Repeat("../", 30)+outside[1:], "etc/escape")
		if err := fx.run(storage(section)); err == nil || !strings.Contains(err.Error(), errEscapes.Error()) {
			t.Errorf("%s: error %v", section, err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Fatalf("wrote outside the root: %v", entries)
		}
	}
}

func TestLinks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(fx *fixture)
		links   string
		files   string
		wantErr string
		check   func(t *testing.T, fx *fixture)
	}{
		{
			name:  "symlink, owner set on the link itself",
			links: `{"path":"/etc/l","target":"/etc/t","user":{"id":5},"group":{"id":6}}`,
			check: func(t *testing.T, fx *fixture) {
				if got, _ := os.Readlink(fx.host("etc/l")); got != "/etc/t" {
					t.Errorf("target %q", got)
				}
				if got := fx.owner("etc/l"); got != [2]int{5, 6} {
					t.Errorf("owner %v", got)
				}
			},
		},
		{
			name:  "the same symlink exists, overwrite false: only the owner is set",
			setup: func(fx *fixture) { fx.symlink("/etc/t", "etc/l") },
			links: `{"path":"/etc/l","target":"/etc/t","user":{"id":5}}`,
			check: func(t *testing.T, fx *fixture) {
				if got := fx.owner("etc/l"); got[0] != 5 {
					t.Errorf("owner %v", got)
				}
			},
		},
		{
			name:    "another symlink exists, overwrite false",
			setup:   func(fx *fixture) { fx.symlink("/etc/other", "etc/l") },
			links:   `{"path":"/etc/l","target":"/etc/t"}`,
			wantErr: `storage.links.0 (/etc/l): a symlink to "/etc/other" is in the way and overwrite is false`,
		},
		{
			name:  "a file exists, overwrite true",
			setup: func(fx *fixture) { fx.write("etc/l", "f", 0o644) },
			links: `{"path":"/etc/l","target":"t","overwrite":true}`,
			check: func(t *testing.T, fx *fixture) {
				if got, _ := os.Readlink(fx.host("etc/l")); got != "t" {
					t.Errorf("target %q", got)
				}
			},
		},
		{
			name:    "a file exists, overwrite false",
			setup:   func(fx *fixture) { fx.write("etc/l", "f", 0o644) },
			links:   `{"path":"/etc/l","target":"t"}`,
			wantErr: `storage.links.0 (/etc/l): a file is in the way and overwrite is false`,
		},
		{
			name:  "hard link to a file written by the same config",
			files: `{"path":"/etc/f","contents":{"source":"` + dataURL("data") + `"}}`,
			links: `{"path":"/var/h","target":"/etc/f","hard":true},{"path":"/etc/rel","target":"f","hard":true}`,
			check: func(t *testing.T, fx *fixture) {
				for _, p := range []string{"var/h", "etc/rel"} {
					if !os.SameFile(fx.lstat(p), fx.lstat("etc/f")) {
						t.Errorf("%s is not a hard link to /etc/f", p)
					}
				}
			},
		},
		{
			name: "hard links come after symlinks, whatever the config order",
			links: `{"path":"/etc/h","target":"/etc/s","hard":true},
				{"path":"/etc/s","target":"/etc/nowhere"}`,
			check: func(t *testing.T, fx *fixture) {
				if !os.SameFile(fx.lstat("etc/h"), fx.lstat("etc/s")) {
					t.Error("/etc/h is not a hard link to the symlink /etc/s")
				}
			},
		},
		{
			name: "hard link target resolved inside the root",
			setup: func(fx *fixture) {
				fx.write("usr/share/f", "shared", 0o644)
				fx.symlink("/usr/share", "share")
			},
			links: `{"path":"/etc/h","target":"/share/f","hard":true}`,
			check: func(t *testing.T, fx *fixture) {
				if fx.read("etc/h") != "shared" {
					t.Error("wrong target")
				}
			},
		},
		{
			name:    "hard link to nothing",
			links:   `{"path":"/etc/h","target":"/etc/missing","hard":true}`,
			wantErr: `storage.links.0 (/etc/h): target /etc/missing: `,
		},
		{
			name:    "hard link, another file exists, overwrite false",
			setup:   func(fx *fixture) { fx.write("etc/t", "t", 0o644); fx.write("etc/h", "h", 0o644) },
			links:   `{"path":"/etc/h","target":"/etc/t","hard":true}`,
			wantErr: `storage.links.0 (/etc/h): a file is in the way and overwrite is false`,
		},
		{
			name:  "hard link, another file exists, overwrite true",
			setup: func(fx *fixture) { fx.write("etc/t", "t", 0o644); fx.write("etc/h", "h", 0o644) },
			links: `{"path":"/etc/h","target":"/etc/t","hard":true,"overwrite":true}`,
			check: func(t *testing.T, fx *fixture) {
				if !os.SameFile(fx.lstat("etc/h"), fx.lstat("etc/t")) {
					t.Error("not linked")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.mkdir("etc")
			if tc.setup != nil {
				tc.setup(fx)
			}
			section := `{"links":[` + tc.links + `]`
			if tc.files != "" {
				section += `,"files":[` + tc.files + `]`
			}
			err := fx.run(storage(section + `}`))
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, fx)
			if tmp := fx.tempFiles(); len(tmp) != 0 {
				t.Errorf("temp files left: %v", tmp)
			}
		})
	}
}

// server serves files and holds every request until want of them are in
// flight at once (or a timeout passes), so a test can tell whether
// fetches ran concurrently.
type server struct {
	*httptest.Server
	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	all         chan struct{}
}

func newServer(t *testing.T, files map[string]string, want int) *server {
	s := &server{all: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.inFlight++
		if s.inFlight > s.maxInFlight {
			s.maxInFlight = s.inFlight
			if s.maxInFlight == want {
				close(s.all)
			}
		}
		s.mu.Unlock()
		select {
		case <-s.all:
		case <-time.After(2 * time.Second):
		}
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) max() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

func TestRemoteContentsFetchedConcurrently(t *testing.T) {
	srv := newServer(t, map[string]string{"/a": "A", "/b": "B", "/frag": "+F"}, 3)
	fx := newFixture(t)
	err := fx.run(storage(fmt.Sprintf(`{"files":[
		{"path":"/etc/a","contents":{"source":"%[1]s/a"}},
		{"path":"/new/dir/b","contents":{"source":"%[1]s/b"},"append":[{"source":"%[1]s/frag"}]}]}`, srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	if got := fx.read("etc/a"); got != "A" {
		t.Errorf("/etc/a: %q", got)
	}
	if got := fx.read("new/dir/b"); got != "B+F" {
		t.Errorf("/new/dir/b: %q", got)
	}
	if got := srv.max(); got != 3 {
		t.Errorf("at most %d fetches ran at once, want all 3", got)
	}
	if tmp := fx.tempFiles(); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}

// TestFetchFailureWritesNothing: one 404 fails the stage before any node
// is written, and the error names the entry, the path and the URL.
func TestFetchFailureWritesNothing(t *testing.T) {
	srv := newServer(t, map[string]string{"/a": "A"}, 2)
	fx := newFixture(t)
	fx.mkdir("etc")
	err := fx.run(storage(fmt.Sprintf(`{
		"directories":[{"path":"/srv/d"}],
		"files":[
			{"path":"/etc/a","contents":{"source":"%[1]s/a"}},
			{"path":"/etc/b","contents":{"source":"%[1]s/missing"}},
			{"path":"/etc/c","append":[{"source":"%[1]s/a"},{"source":"%[1]s/gone"}]}]}`, srv.URL)))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"storage.files.1 (/etc/b): fetching " + srv.URL + "/missing: server returned 404 Not Found",
		"storage.files.2.append.1 (/etc/c): fetching " + srv.URL + "/gone: server returned 404 Not Found",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	for _, p := range []string{"etc/a", "etc/b", "etc/c", "srv"} {
		if fx.exists(p) {
			t.Errorf("%s was written", p)
		}
	}
	if tmp := fx.tempFiles(); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}

func TestNodeLogs(t *testing.T) {
	fx := newFixture(t)
	err := fx.run(storage(`{"files":[{"path":"/etc/foo"}],"directories":[{"path":"/d"}],"links":[{"path":"/l","target":"/etc/foo"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	logs := fx.logs.String()
	for _, want := range []string{
		`[started]  writing file "/etc/foo"`, `[finished] writing file "/etc/foo"`,
		`[started]  creating directory "/d"`, `[finished] creating directory "/d"`,
		`[started]  writing link "/l" -> "/etc/foo"`, `[finished] writing link "/l" -> "/etc/foo"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	fx = newFixture(t)
	fx.write("etc/foo", "x", 0o644)
	if err := fx.run(storage(`{"files":[{"path":"/etc/foo","contents":{"source":"data:,y"}}]}`)); err == nil {
		t.Fatal("no error")
	}
	if want := `[failed]   writing file "/etc/foo": a file exists and overwrite is false`; !strings.Contains(fx.logs.String(), want) {
		t.Errorf("logs lack %q:\n%s", want, fx.logs.String())
	}
}

// TestFileInReplacedDirectory: a directory the config replaces is removed
// after the fetches, so the fetched contents of a file inside it must not
// have been staged there.
func TestFileInReplacedDirectory(t *testing.T) {
	fx := newFixture(t)
	fx.write("srv/d/old", "old", 0o644)
	err := fx.run(storage(`{
		"directories":[{"path":"/srv/d","overwrite":true}],
		"files":[{"path":"/srv/d/sub/x","contents":{"source":"` + dataURL("x") + `"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := fx.read("srv/d/sub/x"); got != "x" {
		t.Errorf("contents %q", got)
	}
	if fx.exists("srv/d/old") {
		t.Error("the old directory survived")
	}
	if tmp := fx.tempFiles(); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}
