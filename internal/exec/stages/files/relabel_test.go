package files

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// relabelConfig writes something of every kind the stage makes.
const relabelConfig = `{"ignition":{"version":"3.6.0"},
 "passwd":{"users":[
  {"name":"alice","sshAuthorizedKeys":["ssh-ed25519 AAAA alice"]},
  {"name":"bob","noCreateHome":true}]},
 "storage":{
  "directories":[{"path":"/srv/data/cache","mode":448}],
  "files":[{"path":"/etc/dirlink/app.conf","contents":{"source":"data:,x"}}],
  "links":[
   {"path":"/etc/link","target":"/usr/bin/true"},
   {"path":"/srv/data/hard","target":"/opt/real/app.conf","hard":true}]},
 "systemd":{"units":[
  {"name":"a.service","enabled":true,"contents":"[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
   "dropins":[{"name":"10-env.conf","contents":"[Service]\nEnvironment=X=1\n"}]},
  {"name":"m.service","mask":true}]}}`

// relabelWant is every path relabelConfig creates or changes, as seen in
// the target: leading directories made on the way, the account databases
// useradd rewrote, and the file reached through /etc/dirlink (a symlink
// to /opt/real) at its real place.
var relabelWant = []string{
	"/etc/.ignition-result.json",
	"/etc/group",
	"/etc/link",
	"/etc/passwd",
	"/etc/systemd",
	"/etc/systemd/system",
	"/etc/systemd/system-preset",
	"/etc/systemd/system-preset/20-ignition.preset",
	"/etc/systemd/system/a.service",
	"/etc/systemd/system/a.service.d",
	"/etc/systemd/system/a.service.d/10-env.conf",
	"/etc/systemd/system/m.service",
	"/opt",
	"/opt/real",
	"/opt/real/app.conf",
	"/srv",
	"/srv/data",
	"/srv/data/cache",
	"/srv/data/hard",
	"/var/home/alice",
	"/var/home/alice/.ssh",
	"/var/home/alice/.ssh/authorized_keys.d",
	"/var/home/alice/.ssh/authorized_keys.d/ignition",
}

// relabelList reads the list the stage wrote, nil when there is none.
func (fx *fixture) relabelList() []string {
	fx.t.Helper()
	raw, err := os.ReadFile(fx.env.RelabelFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		fx.t.Fatal(err)
	}
	s := string(raw)
	if !strings.HasSuffix(s, "\n") {
		fx.t.Errorf("the list does not end in a newline: %q", s)
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestRelabelList(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string // /etc/selinux/config; "" for none
		want   bool
	}{
		{"no SELinux config", "", false},
		{"enforcing", "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n", true},
		{"permissive", "SELINUX=permissive\nSELINUXTYPE=targeted\n", true},
		{"disabled", "SELINUX=disabled\nSELINUXTYPE=targeted\n", false},
		{"disabled, quoted and spaced", "#SELINUX=enforcing\n  SELINUX = \"Disabled\"\n", false},
		{"last setting wins", "SELINUX=disabled\nSELINUX=enforcing\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.fakeRunner()
			fx.symlink("/opt/real", "etc/dirlink")
			want := slices.Clone(relabelWant)
			if tc.config != "" {
				fx.write("etc/selinux/config", tc.config, 0o644)
			}
			if err := fx.run(relabelConfig); err != nil {
				t.Fatal(err)
			}
			got := fx.relabelList()
			if !tc.want {
				if got != nil {
					t.Fatalf("a relabel list was written without SELinux: %q", got)
				}
				if _, err := os.Stat(filepath.Dir(fx.env.RelabelFile)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("relabel-extra.d was created: %v", err)
				}
				return
			}
			seen := map[string]bool{}
			for _, p := range got {
				if seen[p] {
					t.Errorf("%s is listed twice", p)
				}
				seen[p] = true
			}
			sorted := slices.Clone(got)
			slices.Sort(sorted)
			if !slices.Equal(sorted, want) {
				t.Errorf("relabel list:\n%s\nwant (any order):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if fi, err := os.Stat(fx.env.RelabelFile); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("list: %v, %v", fi, err)
			}
			// Leading directories come before what is in them.
			if i, j := slices.Index(got, "/srv/data"), slices.Index(got, "/srv/data/cache"); i > j {
				t.Errorf("/srv/data after /srv/data/cache: %q", got)
			}
		})
	}
}

// TestRelabelSELinuxConfigFromConfig: the target's SELinux setting is the
// one the stage leaves, including a /etc/selinux/config the config
// writes, which is relabeled too.
func TestRelabelSELinuxConfigFromConfig(t *testing.T) {
	fx := newFixture(t)
	fx.symlink("/etc/selinux.real", "etc/selinux") // read through the root, symlinks resolved in it
	err := fx.run(`{"ignition":{"version":"3.6.0"},"storage":{"files":[
		{"path":"/etc/selinux/config","contents":{"source":"data:,SELINUX%3Denforcing%0A"}}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/etc/selinux.real", "/etc/selinux.real/config", "/etc/.ignition-result.json"}
	if got := fx.relabelList(); !slices.Equal(got, want) {
		t.Errorf("relabel list %q, want %q", got, want)
	}
}

// TestRelabelExistingNodes: an existing directory whose mode the config
// sets, and an existing symlink whose owner it sets, are changed and so
// listed; an existing file left as it is is not.
func TestRelabelExistingNodes(t *testing.T) {
	fx := newFixture(t)
	fx.write("etc/selinux/config", "SELINUX=enforcing\n", 0o644)
	fx.mkdir("srv/keep")
	fx.symlink("/x", "srv/ln")
	fx.write("srv/same", "old", 0o644)
	err := fx.run(`{"ignition":{"version":"3.6.0"},"storage":{
		"directories":[{"path":"/srv/keep","mode":448}],
		"files":[{"path":"/srv/same"}],
		"links":[{"path":"/srv/ln","target":"/x","user":{"id":7}}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/srv/keep", "/srv/ln", "/etc/.ignition-result.json"}
	if got := fx.relabelList(); !slices.Equal(got, want) {
		t.Errorf("relabel list %q, want %q", got, want)
	}
}

// TestRelabelReplacesList: the list replaces an earlier one atomically,
// leaving no temp file beside it.
func TestRelabelReplacesList(t *testing.T) {
	fx := newFixture(t)
	fx.write("etc/selinux/config", "SELINUX=permissive\n", 0o644)
	if err := os.MkdirAll(filepath.Dir(fx.env.RelabelFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fx.env.RelabelFile, []byte("/stale\n/older\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fx.run(`{"ignition":{"version":"3.6.0"}}`); err != nil {
		t.Fatal(err)
	}
	if got, want := fx.relabelList(), []string{"/etc/.ignition-result.json"}; !slices.Equal(got, want) {
		t.Errorf("relabel list %q, want %q", got, want)
	}
	ents, err := os.ReadDir(filepath.Dir(fx.env.RelabelFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("beside the list: %v", ents)
	}
}

// TestRelabelNoListOnFailure: a stage that fails part way writes no list,
// even though it already wrote some paths.
func TestRelabelNoListOnFailure(t *testing.T) {
	for _, tc := range []struct{ name, config string }{
		{"node in the way", `{"ignition":{"version":"3.6.0"},"storage":{
			"directories":[{"path":"/srv/new"}],
			"files":[{"path":"/srv/blocked"}],
			"links":[{"path":"/srv/blocked/x","target":"/y"}]}}`},
		{"useradd fails after groupadd", `{"ignition":{"version":"3.6.0"},"passwd":{
			"groups":[{"name":"staff"}],"users":[{"name":"carol"}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.write("etc/selinux/config", "SELINUX=enforcing\n", 0o644)
			fx.write("srv/blocked", "a file", 0o644)
			r := fx.fakeRunner()
			r.fail = map[string]error{"useradd": errors.New("useradd: boom")}
			if err := fx.run(tc.config); err == nil {
				t.Fatal("the stage succeeded")
			}
			if got := fx.relabelList(); got != nil {
				t.Errorf("a relabel list was written: %q", got)
			}
		})
	}
}

// TestRelabelUnreadableSELinuxConfig: a /etc/selinux/config that cannot be
// read (here a directory) fails the stage rather than skip relabeling.
func TestRelabelUnreadableSELinuxConfig(t *testing.T) {
	fx := newFixture(t)
	fx.mkdir("etc/selinux/config")
	err := fx.run(`{"ignition":{"version":"3.6.0"}}`)
	if err == nil || !strings.Contains(err.Error(), "/etc/selinux/config") {
		t.Fatalf("error %v, want one about /etc/selinux/config", err)
	}
	if got := fx.relabelList(); got != nil {
		t.Errorf("a relabel list was written: %q", got)
	}
}

// TestSkipRelabel: with SkipRelabel (ignition-apply) no list is written,
// even for an SELinux target, and a warning says relabeling is needed.
func TestSkipRelabel(t *testing.T) {
	fx := newFixture(t)
	fx.env.SkipRelabel = true
	fx.write("etc/selinux/config", "SELINUX=enforcing\n", 0o644)
	if err := fx.run(`{"ignition":{"version":"3.6.0"},"storage":{"files":[{"path":"/etc/motd"}]}}`); err != nil {
		t.Fatal(err)
	}
	if got := fx.relabelList(); got != nil {
		t.Errorf("a relabel list was written: %q", got)
	}
	if !strings.Contains(fx.logs.String(), "the target uses SELinux; relabel the") {
		t.Errorf("no warning in the logs:\n%s", fx.logs.String())
	}
}
