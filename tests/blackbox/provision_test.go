package blackbox

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

// specVersions are every config version the product accepts.
var specVersions = []string{"3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0", "3.5.0", "3.6.0", "3.7.0-experimental"}

var gzPayload = strings.Repeat("compressed payload\n", 100)

// tftpPayload spans several TFTP blocks of any size the client may ask
// for, and ends in a partial one.
var tftpPayload = strings.Repeat("served over TFTP, block after block\n", 150)

var tftpGzPayload = strings.Repeat("gzipped over TFTP\n", 400)

const unitText = "[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n"

var scenarios = []scenario{
	{
		name: "file mode and owner by name from the target's passwd",
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
			{"path": "/etc/secret", "mode": 384, "user": {"name": "core"}, "group": {"name": "core"},
			 "contents": {"source": "data:,s3cret%0A"}}]}}`,
		want: []expect{
			file{path: "/etc/secret", contents: "s3cret\n", mode: 0o600, uid: 1000, gid: 1000},
		},
	},
	{
		name: "file owner by id and parent dirs created 0755 root",
		config: `{"ignition": {"version": "3.2.0"}, "storage": {"files": [
			{"path": "/opt/a/b/c.txt", "mode": 416, "user": {"id": 4321}, "group": {"id": 1234},
			 "contents": {"source": "data:,c"}}]}}`,
		want: []expect{
			file{path: "/opt/a/b/c.txt", contents: "c", mode: 0o640, uid: 4321, gid: 1234},
			dir{path: "/opt/a", mode: 0o755},
			dir{path: "/opt/a/b", mode: 0o755},
		},
	},
	{
		name: "overwrite false without contents keeps an existing file",
		seed: map[string]seedFile{"/etc/keep": {"old\n", 0o644}},
		config: `{"ignition": {"version": "3.3.0"}, "storage": {"files": [
			{"path": "/etc/keep", "overwrite": false}]}}`,
		want: []expect{file{path: "/etc/keep", contents: "old\n", mode: 0o644}},
	},
	{
		name: "overwrite true replaces an existing file",
		seed: map[string]seedFile{"/etc/replace": {"old\n", 0o600}},
		config: `{"ignition": {"version": "3.3.0"}, "storage": {"files": [
			{"path": "/etc/replace", "overwrite": true, "contents": {"source": "data:,new%0A"}}]}}`,
		want: []expect{file{path: "/etc/replace", contents: "new\n", mode: 0o644}},
	},
	{
		name:   "append fragments to an existing file, from data: and http",
		seed:   map[string]seedFile{"/etc/app.conf": {"line1\n", 0o640}},
		remote: map[string][]byte{"/frag3": []byte("line3\n")},
		config: `{"ignition": {"version": "3.1.0"}, "storage": {"files": [
			{"path": "/etc/app.conf", "append": [
				{"source": "data:,line2%0A"},
				{"source": "{{.URL}}/frag3"}]}]}}`,
		want: []expect{file{path: "/etc/app.conf", contents: "line1\nline2\nline3\n", mode: 0o640}},
	},
	{
		name: "contents then append fragments on a new file",
		config: `{"ignition": {"version": "3.6.0"}, "storage": {"files": [
			{"path": "/etc/new.conf", "mode": 420, "contents": {"source": "data:,a%0A"},
			 "append": [{"source": "data:,b%0A"}, {"source": "{{dataurl "c\n"}}"}]}]}}`,
		want: []expect{file{path: "/etc/new.conf", contents: "a\nb\nc\n", mode: 0o644}},
	},
	{
		name:   "gzip remote file verified with sha512 from the local HTTP server",
		remote: map[string][]byte{"/blob.gz": gz(gzPayload)},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
			{"path": "/usr/local/share/blob", "mode": 420,
			 "contents": {"source": "{{.URL}}/blob.gz", "compression": "gzip",
			              "verification": {"hash": "` + sha512Of(gzPayload) + `"}}}]}}`,
		want: []expect{file{path: "/usr/local/share/blob", contents: gzPayload, mode: 0o644}},
	},
	{
		name: "directory with mode and owner",
		config: `{"ignition": {"version": "3.5.0"}, "storage": {"directories": [
			{"path": "/var/lib/app", "mode": 488, "user": {"name": "core"}}]}}`,
		want: []expect{
			dir{path: "/var/lib/app", mode: 0o750, uid: 1000},
			dir{path: "/var/lib", mode: 0o755},
		},
	},
	{
		name: "directory and file with sticky, setgid and setuid bits (3.6.0)",
		config: `{"ignition": {"version": "3.6.0"}, "storage": {
			"directories": [{"path": "/srv/shared", "mode": 1023}, {"path": "/srv/team", "mode": 1528, "group": {"name": "core"}}],
			"files": [{"path": "/usr/local/bin/suid", "mode": 2541, "contents": {"source": "data:,x"}}]}}`,
		want: []expect{
			dir{path: "/srv/shared", mode: fs.ModePerm | fs.ModeSticky},
			dir{path: "/srv/team", mode: 0o770 | fs.ModeSetgid, gid: 1000},
			file{path: "/usr/local/bin/suid", contents: "x", mode: 0o755 | fs.ModeSetuid},
		},
	},
	{
		name: "symlink and hard link",
		config: `{"ignition": {"version": "3.3.0"}, "storage": {
			"files": [{"path": "/etc/target.conf", "contents": {"source": "data:,t"}}],
			"links": [
				{"path": "/etc/alias.conf", "target": "/etc/target.conf"},
				{"path": "/usr/share/rel", "target": "../../etc/target.conf"},
				{"path": "/etc/hard.conf", "target": "/etc/target.conf", "hard": true}]}}`,
		want: []expect{
			file{path: "/etc/target.conf", contents: "t", mode: 0o644},
			symlink{path: "/etc/alias.conf", target: "/etc/target.conf"},
			symlink{path: "/usr/share/rel", target: "../../etc/target.conf"},
			hardlink{path: "/etc/hard.conf", target: "/etc/target.conf"},
		},
	},
	{
		name: "units: enabled with a drop-in, disabled, masked",
		config: `{"ignition": {"version": "3.4.0"}, "systemd": {"units": [
			{"name": "app.service", "enabled": true, "contents": ` + jsonString(unitText) + `,
			 "dropins": [{"name": "10-env.conf", "contents": "[Service]\nEnvironment=A=1\n"}]},
			{"name": "off.service", "enabled": false},
			{"name": "getty@tty1.service", "enabled": true},
			{"name": "bad.service", "mask": true}]}}`,
		want: []expect{
			file{path: "/etc/systemd/system/app.service", contents: unitText, mode: 0o644},
			file{path: "/etc/systemd/system/app.service.d/10-env.conf", contents: "[Service]\nEnvironment=A=1\n", mode: 0o644},
			symlink{path: "/etc/systemd/system/bad.service", target: "/dev/null"},
			hasLines{path: "/etc/systemd/system-preset/20-ignition.preset", lines: []string{
				"enable app.service", "disable off.service", "enable getty@.service tty1"}},
			absent{path: "/etc/systemd/system/off.service"},
		},
	},
	{
		name: "users and groups through the shadow-utils, ssh keys for an existing user",
		config: `{"ignition": {"version": "3.4.0"}, "passwd": {
			"groups": [{"name": "devs", "gid": 2000}],
			"users": [
				{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 one", "ssh-rsa AAAAB3Key2 two"]},
				{"name": "alice", "uid": 1500, "groups": ["wheel", "devs"], "shell": "/bin/zsh", "gecos": "Alice A"}]}}`,
		commands: [][]string{
			{"groupadd", "--root", "ROOT", "--gid", "2000", "devs"},
			{"useradd", "--root", "ROOT", "--uid", "1500", "--comment", "Alice A", "--create-home",
				"--groups", "wheel,devs", "--shell", "/bin/zsh", "alice"},
		},
		want: []expect{
			file{path: "/home/core/.ssh/authorized_keys.d/ignition",
				contents: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 one\nssh-rsa AAAAB3Key2 two\n",
				mode:     0o600, uid: 1000, gid: 1000},
			dir{path: "/home/core/.ssh", mode: 0o700, uid: 1000, gid: 1000},
			dir{path: "/home/core/.ssh/authorized_keys.d", mode: 0o700, uid: 1000, gid: 1000},
		},
	},
	{
		name: "existing user modified with usermod",
		config: `{"ignition": {"version": "3.0.0"}, "passwd": {"users": [
			{"name": "core", "shell": "/bin/sh", "groups": ["wheel"]}]}}`,
		commands: [][]string{
			{"usermod", "--root", "ROOT", "--groups", "wheel", "--shell", "/bin/sh", "core"},
		},
	},
	{
		name: "base config merged under the user config",
		base: map[string]string{
			"sys/base.d/10-base.ign": `{"ignition": {"version": "3.2.0"}, "storage": {"files": [
				{"path": "/etc/base-only", "contents": {"source": "data:,base"}},
				{"path": "/etc/both", "mode": 384, "contents": {"source": "data:,from%20base"}}]}}`,
		},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
			{"path": "/etc/both", "contents": {"source": "data:,from%20user"}}]}}`,
		want: []expect{
			file{path: "/etc/base-only", contents: "base", mode: 0o644},
			file{path: "/etc/both", contents: "from user", mode: 0o600},
		},
	},
	{
		name: "merge child config from a data: URL",
		config: `{"ignition": {"version": "3.3.0", "config": {"merge": [
			{"source": "{{dataurl ` + "`" + `{"ignition": {"version": "3.3.0"}, "storage": {"files": [{"path": "/etc/child", "contents": {"source": "data:,child"}}, {"path": "/etc/parent", "mode": 256}]}}` + "`" + `}}"}]}},
			"storage": {"files": [{"path": "/etc/parent", "contents": {"source": "data:,parent"}}]}}`,
		want: []expect{
			file{path: "/etc/child", contents: "child", mode: 0o644},
			file{path: "/etc/parent", contents: "parent", mode: 0o400},
		},
	},
	{
		name:   "merge child config from the local HTTP server (fetch-offline defers to fetch)",
		remote: map[string][]byte{"/child.ign": []byte(`{"ignition": {"version": "3.1.0"}, "storage": {"files": [{"path": "/etc/from-http", "contents": {"source": "data:,net"}}]}}`)},
		config: `{"ignition": {"version": "3.1.0", "config": {"merge": [{"source": "{{.URL}}/child.ign"}]}}}`,
		want:   []expect{file{path: "/etc/from-http", contents: "net", mode: 0o644}},
	},

	{
		name: "base configs: runtime dir beats system dir by name, platform dir merged last",
		base: map[string]string{
			"sys/base.d/10-a.ign": `{"ignition": {"version": "3.0.0"}, "storage": {"files": [
				{"path": "/etc/sys-only", "contents": {"source": "data:,sys"}},
				{"path": "/etc/a", "contents": {"source": "data:,sys"}}]}}`,
			"runtime/base.d/10-a.ign": `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
				{"path": "/etc/a", "contents": {"source": "data:,runtime"}}]}}`,
			"local/base.d/20-b.ign": `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
				{"path": "/etc/b", "contents": {"source": "data:,local"}}]}}`,
			"sys/base.platform.d/file/05-p.ign": `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
				{"path": "/etc/b", "contents": {"source": "data:,platform"}}]}}`,
		},
		config: `{"ignition": {"version": "3.4.0"}}`,
		want: []expect{
			absent{"/etc/sys-only"},
			file{path: "/etc/a", contents: "runtime", mode: 0o644},
			file{path: "/etc/b", contents: "platform", mode: 0o644},
		},
	},
	{
		name: "replace config from a data: URL drops the parent's own storage",
		config: `{"ignition": {"version": "3.2.0", "config": {"replace":
			{"source": "{{dataurl ` + "`" + `{"ignition": {"version": "3.2.0"}, "storage": {"files": [{"path": "/etc/replacement", "contents": {"source": "data:,r"}}]}}` + "`" + `}}"}}},
			"storage": {"files": [{"path": "/etc/replaced", "contents": {"source": "data:,gone"}}]}}`,
		want: []expect{
			file{path: "/etc/replacement", contents: "r", mode: 0o644},
			absent{"/etc/replaced"},
		},
	},
	{
		name: "deleting a user and a group",
		config: `{"ignition": {"version": "3.3.0"}, "passwd": {
			"users": [{"name": "core", "shouldExist": false}, {"name": "nobody-here", "shouldExist": false}],
			"groups": [{"name": "ignitionx", "shouldExist": false}]}}`,
		commands: [][]string{
			{"userdel", "--root", "ROOT", "core"},
			{"groupdel", "--root", "ROOT", "ignitionx"},
		},
	},
	{
		name: "symlink with overwrite replaces an existing file",
		seed: map[string]seedFile{"/etc/localtime": {"old zone", 0o644}},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"links": [
			{"path": "/etc/localtime", "target": "../usr/share/zoneinfo/UTC", "overwrite": true}]}}`,
		want: []expect{symlink{path: "/etc/localtime", target: "../usr/share/zoneinfo/UTC"}},
	},

	{
		name:          "remote file with httpHeaders (3.2.0)",
		remote:        map[string][]byte{"/private": []byte("behind a header\n")},
		requireHeader: [2]string{"X-Token", "open-sesame"},
		config: `{"ignition": {"version": "3.2.0"}, "storage": {"files": [
			{"path": "/etc/private", "contents": {"source": "{{.URL}}/private",
			 "httpHeaders": [{"name": "X-Token", "value": "open-sesame"}]}}]}}`,
		want: []expect{file{path: "/etc/private", contents: "behind a header\n", mode: 0o644}},
	},

	{
		name: "file contents from the local TFTP server",
		tftp: map[string][]byte{"boot/motd": []byte(tftpPayload)},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
			{"path": "/etc/motd", "mode": 420, "contents": {"source": "{{.TFTP}}/boot/motd"}}]}}`,
		want: []expect{file{path: "/etc/motd", contents: tftpPayload, mode: 0o644}},
	},
	{
		name:      "gzip file from the local TFTP server (size announced) verified with sha512",
		tftp:      map[string][]byte{"blob.gz": gz(tftpGzPayload)},
		tftpSized: []string{"blob.gz"},
		config: `{"ignition": {"version": "3.1.0"}, "storage": {"files": [
			{"path": "/var/lib/tftp-blob", "mode": 384,
			 "contents": {"source": "{{.TFTP}}/blob.gz", "compression": "gzip",
			              "verification": {"hash": "` + sha512Of(tftpGzPayload) + `"}}}]}}`,
		want: []expect{file{path: "/var/lib/tftp-blob", contents: tftpGzPayload, mode: 0o600}},
	},
	{
		name: "kargs stage runs the helper: shouldExist then shouldNotExist, in config order",
		config: `{"ignition": {"version": "3.3.0"},
			"kernelArguments": {"shouldExist": ["console=ttyS0,115200n8", "quiet"], "shouldNotExist": ["rhgb", "splash"]},
			"storage": {"files": [{"path": "/etc/after-kargs", "contents": {"source": "data:,k"}}]}}`,
		kargs: []string{"ignition-kargs-helper",
			"--should-exist", "console=ttyS0,115200n8", "--should-exist", "quiet",
			"--should-not-exist", "rhgb", "--should-not-exist", "splash"},
		want: []expect{file{path: "/etc/after-kargs", contents: "k", mode: 0o644}},
	},
	{
		name: "kargs stage with shouldNotExist only, from a merged base config",
		base: map[string]string{
			"sys/base.d/10-kargs.ign": `{"ignition": {"version": "3.4.0"}, "kernelArguments": {"shouldNotExist": ["nomodeset"]}}`,
		},
		config: `{"ignition": {"version": "3.4.0"}}`,
		kargs:  []string{"ignition-kargs-helper", "--should-not-exist", "nomodeset"},
	},
	{
		name: "config without kernelArguments does not run the kargs helper",
		config: `{"ignition": {"version": "3.4.0"}, "passwd": {"users": [{"name": "core", "shell": "/bin/sh"}]},
			"storage": {"files": [{"path": "/etc/no-kargs", "contents": {"source": "data:,n"}}]}}`,
		commands: [][]string{{"usermod", "--root", "ROOT", "--shell", "/bin/sh", "core"}},
		want:     []expect{file{path: "/etc/no-kargs", contents: "n", mode: 0o644}},
	},
	{
		name:   "empty kernelArguments lists do not run the kargs helper",
		config: `{"ignition": {"version": "3.3.0"}, "kernelArguments": {"shouldExist": [], "shouldNotExist": []}}`,
	},

	// Negative scenarios.
	{
		name: "missing file on the TFTP server fails files and writes nothing",
		tftp: map[string][]byte{"present": []byte("here\n")},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
			{"path": "/etc/first", "contents": {"source": "{{.TFTP}}/present"}},
			{"path": "/etc/from-tftp", "contents": {"source": "{{.TFTP}}/cfg/missing.txt"}},
			{"path": "/etc/last", "contents": {"source": "data:,last"}}]}}`,
		failStage: "files",
		failMsg:   []string{"storage.files.1 (/etc/from-tftp)", `"cfg/missing.txt" not found`},
		want:      []expect{absent{"/etc/first"}, absent{"/etc/from-tftp"}, absent{"/etc/last"}, absent{"/etc/.ignition-result.json"}},
	},
	{
		name:          "remote file without the header the server wants fails",
		remote:        map[string][]byte{"/private": []byte("behind a header\n")},
		requireHeader: [2]string{"X-Token", "open-sesame"},
		config: `{"ignition": {"version": "3.2.0"}, "storage": {"files": [
			{"path": "/etc/private", "contents": {"source": "{{.URL}}/private"}}]}}`,
		failStage: "files",
		failMsg:   []string{"storage.files.0 (/etc/private)", "403 Forbidden"},
		want:      []expect{absent{"/etc/private"}},
	},
	{
		name: "owner name the host has but the target lacks fails",
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
			{"path": "/etc/daemon.conf", "user": {"name": "daemon"}, "contents": {"source": "data:,d"}}]}}`,
		failStage: "files",
		failMsg:   []string{"storage.files.0 (/etc/daemon.conf)", `user "daemon" not found in the target's /etc/passwd`},
		want:      []expect{absent{"/etc/daemon.conf"}},
	},
	{
		name:      "malformed JSON fails in fetch-offline with line:col",
		config:    "{\"ignition\": {\"version\": \"3.4.0\"},\n \"storage\": {\"files\": [}\n}",
		failStage: "fetch-offline",
		failMsg:   []string{"line 2 col 24"},
	},
	{
		name:      "unsupported config version fails in fetch-offline",
		config:    `{"ignition": {"version": "3.8.0"}, "storage": {"files": [{"path": "/etc/f", "contents": {"source": "data:,f"}}]}}`,
		failStage: "fetch-offline",
		failMsg:   []string{"$.ignition.version", "unsupported config version 3.8.0"},
		want:      []expect{absent{"/etc/f"}},
	},
	{
		name:   "404 remote file fails files and writes nothing",
		remote: map[string][]byte{},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
			{"path": "/etc/missing", "contents": {"source": "{{.URL}}/nope"}},
			{"path": "/etc/other", "contents": {"source": "data:,other"}}]}}`,
		failStage: "files",
		failMsg:   []string{"storage.files.0 (/etc/missing)", "server returned 404 Not Found"},
		want:      []expect{absent{"/etc/missing"}, absent{"/etc/other"}},
	},
	{
		name:   "hash mismatch fails files and writes nothing",
		remote: map[string][]byte{"/x": []byte("actual contents\n")},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"files": [
			{"path": "/etc/x", "contents": {"source": "{{.URL}}/x", "verification": {"hash": "{{sha512 "expected contents\n"}}"}}}]}}`,
		failStage: "files",
		failMsg:   []string{"storage.files.0 (/etc/x)", "hash mismatch"},
		want:      []expect{absent{"/etc/x"}},
	},
	{
		name: "overwrite false with contents over an existing file fails and leaves it",
		seed: map[string]seedFile{"/etc/keep": {"old\n", 0o640}},
		config: `{"ignition": {"version": "3.3.0"}, "storage": {"files": [
			{"path": "/etc/keep", "contents": {"source": "data:,new"}}]}}`,
		failStage: "files",
		failMsg:   []string{"storage.files.0 (/etc/keep)", "overwrite is false"},
		want:      []expect{file{path: "/etc/keep", contents: "old\n", mode: 0o640}},
	},
	{
		name: "invalid config fails in fetch-offline with line:col",
		config: `{"ignition": {"version": "3.4.0"},
 "storage": {"files": [
   {"path": "relative/path", "contents": {"source": "data:,x"}}]}}`,
		failStage: "fetch-offline",
		failMsg:   []string{"$.storage.files.0.path, line 3 col 13", "path not absolute"},
		want:      []expect{absent{"/relative"}, absent{"/etc/.ignition-result.json"}},
	},
	{
		name:      "config with storage.disks fails in disks before anything is written",
		config:    `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "/dev/null", "wipeTable": true}], "files": [{"path": "/etc/f", "contents": {"source": "data:,f"}}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.disks"},
		want:      []expect{absent{"/etc/f"}},
	},
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	return fmt.Sprintf("%q", s) // the unit text is ASCII without control characters but \n
}

func versionScenarios() []scenario {
	var out []scenario
	for _, v := range specVersions {
		out = append(out, scenario{
			name:   "data: file in spec " + v,
			config: `{"ignition": {"version": "` + v + `"}, "storage": {"files": [{"path": "/etc/version-` + v + `", "contents": {"source": "data:,spec%20` + v + `"}}]}}`,
			want:   []expect{file{path: "/etc/version-" + v, contents: "spec " + v, mode: 0o644}},
		})
	}
	return out
}

func TestProvisioning(t *testing.T) {
	all := append(versionScenarios(), scenarios...)
	seen := map[string]bool{}
	for _, sc := range all {
		if seen[sc.name] {
			t.Fatalf("two scenarios named %q", sc.name)
		}
		seen[sc.name] = true
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			provision(t, sc)
		})
	}
}
