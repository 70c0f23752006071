package files

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeRunner records the commands it is given and, like the real
// shadow-utils would, adds users and groups to the target's passwd and
// group files (only as much as the stage reads back).
type fakeRunner struct {
	dir   string // the target root on the host
	mu    sync.Mutex
	calls [][]string
	fail  map[string]error // by command name
}

func (r *fakeRunner) Run(_ context.Context, argv []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, slices.Clone(argv))
	if err := r.fail[argv[0]]; err != nil {
		return err
	}
	opts := map[string]string{}
	for i := 1; i < len(argv)-1; i++ {
		switch argv[i] {
		case "--root", "--uid", "--gid", "--comment", "--home-dir", "--home", "--groups", "--shell", "--password":
			opts[argv[i]] = argv[i+1]
			i++
		default:
			opts[argv[i]] = ""
		}
	}
	if opts["--root"] != r.dir {
		return fmt.Errorf("--root %q, want %q", opts["--root"], r.dir)
	}
	name := argv[len(argv)-1]
	switch argv[0] {
	case "groupadd":
		gid := opts["--gid"]
		if gid == "" {
			gid = "1500"
		}
		return r.add("etc/group", fmt.Sprintf("%s:x:%s:", name, gid))
	case "useradd":
		uid := opts["--uid"]
		if uid == "" {
			uid = "1000"
		}
		gid := uid
		if g, ok := opts["--gid"]; ok {
			gid = r.gid(g)
		} else if _, ok := opts["--no-user-group"]; !ok {
			if err := r.add("etc/group", fmt.Sprintf("%s:x:%s:", name, uid)); err != nil {
				return err
			}
		}
		home, ok := opts["--home-dir"]
		if !ok {
			home = "/var/home/" + name // this distro's HOME default
		}
		if _, ok := opts["--create-home"]; ok {
			if err := os.MkdirAll(filepath.Join(r.dir, home), 0o750); err != nil {
				return err
			}
		}
		return r.add("etc/passwd", fmt.Sprintf("%s:x:%s:%s:%s:%s:%s", name, uid, gid, opts["--comment"], home, opts["--shell"]))
	}
	return nil
}

func (r *fakeRunner) add(file, line string) error {
	p := filepath.Join(r.dir, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(line + "\n")
	return err
}

// gid looks up a group name (or number) in the target's group file.
func (r *fakeRunner) gid(g string) string {
	if _, err := strconv.Atoi(g); err == nil {
		return g
	}
	raw, _ := os.ReadFile(filepath.Join(r.dir, "etc/group"))
	for line := range strings.Lines(string(raw)) {
		if f := strings.Split(strings.TrimSpace(line), ":"); len(f) >= 3 && f[0] == g {
			return f[2]
		}
	}
	return "65534"
}

func (r *fakeRunner) commands() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func (fx *fixture) fakeRunner() *fakeRunner {
	r := &fakeRunner{dir: fx.dir}
	fx.env.Commands = r
	return r
}

func passwdConfig(section string) string {
	return `{"ignition":{"version":"3.6.0"},"passwd":` + section + `}`
}

// existingAccounts is a target that already has some accounts.
const (
	existingPasswd = "root:x:0:0:root:/root:/bin/bash\ncore:x:1000:1000:Core:/var/home/core:/bin/bash\n"
	existingGroup  = "root:x:0:\ncore:x:1000:\nwheel:x:10:core\ndocker:x:990:\n"
	existingShadow = "root:*:19000::::::\ncore:$6$old:19000:0:99999:7:::\n"
	existingGShdw  = "root:::\ncore:!::\nwheel:::core\ndocker:!::\n"
)

func TestPasswdCommands(t *testing.T) {
	for _, tc := range []struct {
		name   string
		passwd string
		want   []string // commands, "R" standing for the root
	}{
		{
			name:   "new group with every option",
			passwd: `{"groups":[{"name":"ops","gid":4000,"passwordHash":"$6$g","system":true}]}`,
			want:   []string{"groupadd --root R --gid 4000 --password $6$g --system ops"},
		},
		{
			name: "new user with every option",
			passwd: `{"users":[{"name":"svc","uid":4001,"gecos":"Service","homeDir":"/srv/svc","noCreateHome":true,
				"primaryGroup":"docker","groups":["wheel","docker"],"noUserGroup":true,"system":true,"noLogInit":true,
				"shell":"/sbin/nologin","passwordHash":"$6$u"}]}`,
			want: []string{"useradd --root R --uid 4001 --comment Service --home-dir /srv/svc --no-create-home --gid docker " +
				"--groups wheel,docker --no-user-group --system --no-log-init --shell /sbin/nologin --password $6$u svc"},
		},
		{
			name:   "new user with nothing but a name",
			passwd: `{"users":[{"name":"svc"}]}`,
			want:   []string{"useradd --root R --create-home svc"},
		},
		{
			name:   "an empty password hash locks the password",
			passwd: `{"users":[{"name":"svc","passwordHash":""}]}`,
			want:   []string{"useradd --root R --create-home --password * svc"},
		},
		{
			name:   "groups come before users",
			passwd: `{"users":[{"name":"svc","primaryGroup":"ops"}],"groups":[{"name":"ops"}]}`,
			want:   []string{"groupadd --root R ops", "useradd --root R --create-home --gid ops svc"},
		},
		{
			name:   "existing user: only what changed",
			passwd: `{"users":[{"name":"core","uid":1000,"gecos":"Core","homeDir":"/var/home/core","shell":"/bin/zsh","primaryGroup":"core"}]}`,
			want:   []string{"usermod --root R --shell /bin/zsh core"},
		},
		{
			name:   "existing user: groups and password",
			passwd: `{"users":[{"name":"core","groups":["wheel","docker"],"passwordHash":"$6$new"}]}`,
			want:   []string{"usermod --root R --groups wheel,docker --password $6$new core"},
		},
		{
			name:   "existing user: every field changed",
			passwd: `{"users":[{"name":"core","uid":1001,"gecos":"C","homeDir":"/home/c","primaryGroup":"wheel","shell":"/bin/sh"}]}`,
			want:   []string{"usermod --root R --uid 1001 --comment C --home /home/c --gid wheel --shell /bin/sh core"},
		},
		{
			name:   "existing user as described: nothing to run",
			passwd: `{"users":[{"name":"core","uid":1000,"groups":["wheel"],"passwordHash":"$6$old","primaryGroup":"1000"}]}`,
			want:   nil,
		},
		{
			name:   "users that should not exist",
			passwd: `{"users":[{"name":"core","shouldExist":false},{"name":"ghost","shouldExist":false}]}`,
			want:   []string{"userdel --root R core"},
		},
		{
			name: "groups that should not exist go after the users",
			passwd: `{"groups":[{"name":"docker","shouldExist":false},{"name":"ghosts","shouldExist":false},{"name":"ops"}],
				"users":[{"name":"svc"}]}`,
			want: []string{"groupadd --root R ops", "useradd --root R --create-home svc", "groupdel --root R docker"},
		},
		{
			name:   "existing group: only what changed",
			passwd: `{"groups":[{"name":"docker","gid":991},{"name":"wheel","gid":10,"passwordHash":""},{"name":"core","passwordHash":"!"}]}`,
			want:   []string{"groupmod --root R --gid 991 docker", "groupmod --root R --password * wheel"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.write("etc/passwd", existingPasswd, 0o644)
			fx.write("etc/group", existingGroup, 0o644)
			fx.write("etc/shadow", existingShadow, 0o600)
			fx.write("etc/gshadow", existingGShdw, 0o600)
			r := fx.fakeRunner()
			if err := fx.run(passwdConfig(tc.passwd)); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range r.commands() {
				got = append(got, strings.ReplaceAll(strings.Join(c, " "), "--root "+fx.dir+" ", "--root R "))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if strings.Contains(fx.logs.String(), "$6$") {
				t.Errorf("a password hash was logged:\n%s", fx.logs.String())
			}
		})
	}
}

func TestAuthorizedKeys(t *testing.T) {
	keys := `"sshAuthorizedKeys":["ssh-ed25519 AAAAC3 one@example","ssh-rsa AAAAB3 two@example"]`
	want := "ssh-ed25519 AAAAC3 one@example\nssh-rsa AAAAB3 two@example\n"
	for _, tc := range []struct {
		name  string
		setup func(fx *fixture)
		user  string
		home  string // where the home directory really is, in the root
		owner [2]int
	}{
		{
			name: "new user: home from the target's passwd after useradd",
			user: `{"name":"core",` + keys + `}`,
			home: "var/home/core", owner: [2]int{1000, 1000},
		},
		{
			name: "new user without a home directory",
			user: `{"name":"svc","uid":4002,"homeDir":"/srv/svc","noCreateHome":true,` + keys + `}`,
			home: "srv/svc", owner: [2]int{4002, 4002},
		},
		{
			name: "existing user, home reached through a symlink",
			setup: func(fx *fixture) {
				fx.write("etc/passwd", "old:x:1234:1300::/home/old:/bin/bash\n", 0o644)
				fx.mkdir("var/home/old")
				fx.symlink("var/home", "home")
			},
			user: `{"name":"old",` + keys + `}`,
			home: "var/home/old", owner: [2]int{1234, 1300},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			if tc.setup != nil {
				tc.setup(fx)
			}
			fx.fakeRunner()
			var homeMode os.FileMode
			if fx.exists(tc.home) {
				homeMode = fx.mode(tc.home)
			}
			if err := fx.run(passwdConfig(`{"users":[` + tc.user + `]}`)); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(tc.home, ".ssh/authorized_keys.d/ignition")
			if got := fx.read(p); got != want {
				t.Errorf("keys %q, want %q", got, want)
			}
			if got := fx.mode(p); got != 0o600 {
				t.Errorf("mode %v", got)
			}
			for _, d := range []string{filepath.Join(tc.home, ".ssh"), filepath.Join(tc.home, ".ssh/authorized_keys.d")} {
				if got := fx.mode(d); got != 0o700 {
					t.Errorf("%s: mode %v", d, got)
				}
				if got := fx.owner(d); got != tc.owner {
					t.Errorf("%s: owner %v, want %v", d, got, tc.owner)
				}
			}
			if got := fx.owner(p); got != tc.owner {
				t.Errorf("owner %v, want %v", got, tc.owner)
			}
			if homeMode != 0 && fx.mode(tc.home) != homeMode {
				t.Errorf("the existing home's mode changed to %v", fx.mode(tc.home))
			}
			if !strings.Contains(fx.logs.String(), "[finished] adding ssh keys to user") {
				t.Errorf("logs:\n%s", fx.logs.String())
			}
		})
	}
}

// TestNodeOwnedByNewUser: nodes are written after the passwd step, so a
// file can be owned by a user the same config creates.
func TestNodeOwnedByNewUser(t *testing.T) {
	fx := newFixture(t)
	fx.fakeRunner()
	err := fx.run(`{"ignition":{"version":"3.6.0"},
		"passwd":{"users":[{"name":"svc","uid":4100}],"groups":[{"name":"svcgrp","gid":4200}]},
		"storage":{"files":[{"path":"/etc/svc.conf","user":{"name":"svc"},"group":{"name":"svcgrp"}}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := fx.owner("etc/svc.conf"); got != [2]int{4100, 4200} {
		t.Errorf("owner %v", got)
	}
}

func TestPasswdCommandFails(t *testing.T) {
	fx := newFixture(t)
	r := fx.fakeRunner()
	r.fail = map[string]error{"useradd": errors.New("useradd: exit status 9: user 'svc' already exists")}
	err := fx.run(`{"ignition":{"version":"3.6.0"},
		"passwd":{"users":[{"name":"svc"}]},
		"storage":{"files":[{"path":"/etc/x"}]}}`)
	if want := "passwd.users.0 (svc): useradd: exit status 9: user 'svc' already exists"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if fx.exists("etc/x") {
		t.Error("the files were written after passwd failed")
	}
	if !strings.Contains(fx.logs.String(), `[failed]   creating user "svc"`) {
		t.Errorf("logs:\n%s", fx.logs.String())
	}
}
