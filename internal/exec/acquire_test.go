package exec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/resource"
	"github.com/ignition-go/ignition/internal/resource/configs"
)

func TestSourcePriority(t *testing.T) {
	tests := []struct {
		name                       string
		cmdline, userIgn, provider bool
		want                       string
	}{
		{"kernel command line beats user.ign and the provider", true, true, true, "/from-cmdline"},
		{"kernel command line alone", true, false, false, "/from-cmdline"},
		{"user.ign beats the provider", false, true, true, "/from-user"},
		{"provider last", false, false, true, "/from-provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t)
			srv := newServer(t, map[string]string{"/user.ign": fileConfig("3.3.0", "/from-cmdline=c")})
			if tt.cmdline {
				h.write(h.cmdline, "ro ignition.config.url="+srv.URL+"/user.ign quiet\n")
			}
			if tt.userIgn {
				h.write(filepath.Join(h.local, "user.ign"), fileConfig("3.0.0", "/from-user=u"))
			}
			if tt.provider {
				h.write(h.configFile, fileConfig("3.5.0", "/from-provider=p"))
			}
			cfg, err := h.acquirer().Acquire(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(cfg); !reflect.DeepEqual(got, []string{tt.want}) {
				t.Errorf("files = %v, want only %s", got, tt.want)
			}
			if cfg.Ignition.Version != config.Latest.String() {
				t.Errorf("version = %q, want %q", cfg.Ignition.Version, config.Latest)
			}
			hits, accept := srv.requests()
			if tt.cmdline && (hits != 1 || accept != configs.Accept) {
				t.Errorf("server saw %d requests, Accept %q; want 1 with %q", hits, accept, configs.Accept)
			}
			if !tt.cmdline && hits != 0 {
				t.Errorf("server saw %d requests, want none", hits)
			}
		})
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		cmdline, want string
	}{
		{"", ""},
		{"BOOT_IMAGE=/vmlinuz ro quiet\n", ""},
		{"ro ignition.config.url=http://a/x.ign quiet", "http://a/x.ign"},
		{"ignition.config.url=http://a ignition.firstboot ignition.config.url=http://b\n", "http://b"},
		{"ignition.config.url=http://a\tignition.config.url=", ""},
		{"ignition.config.url", ""},
		{"ignition.config.urlx=http://a rd.ignition.config.url=http://b", ""},
		{"ignition.config.url=http://a?x=1&y=2", "http://a?x=1&y=2"},
		{`ignition.config.url="http://a/q.ign"`, "http://a/q.ign"},
		{`"ignition.config.url=http://a/q.ign"`, "http://a/q.ign"},
		{"ignition.config.url=data:,{}   ignition.platform.id=qemu", "data:,{}"},
	}
	for _, tt := range tests {
		if got := parseCmdline(tt.cmdline); got != tt.want {
			t.Errorf("parseCmdline(%q) = %q, want %q", tt.cmdline, got, tt.want)
		}
	}
}

func TestCmdlineReadFromOverriddenPath(t *testing.T) {
	h := newHost(t)
	// The override is honoured: a URL only in the overridden file is used.
	h.write(h.cmdline, "ignition.config.url="+dataURL(fileConfig("3.2.0", "/cmd=x")))
	cfg, err := h.acquirer().Acquire(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(cfg); !reflect.DeepEqual(got, []string{"/cmd"}) {
		t.Errorf("files = %v", got)
	}
	// A missing command line file is no URL, not an error.
	os.Remove(h.cmdline)
	h.write(h.configFile, fileConfig("3.2.0", "/prov=x"))
	cfg, err = h.acquirer().Acquire(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(cfg); !reflect.DeepEqual(got, []string{"/prov"}) {
		t.Errorf("files = %v", got)
	}
}

func TestUserIgnDirs(t *testing.T) {
	tests := []struct {
		name string
		in   []string // which dirs have user.ign
		want string
	}{
		{"runtime only", []string{"runtime"}, "runtime"},
		{"local only", []string{"local"}, "local"},
		{"system only", []string{"system"}, "system"},
		{"runtime beats local and system", []string{"system", "local", "runtime"}, "runtime"},
		{"local beats system", []string{"system", "local"}, "local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t)
			dirs := map[string]string{"runtime": h.runtime, "local": h.local, "system": h.system}
			for _, d := range tt.in {
				h.write(filepath.Join(dirs[d], "user.ign"), fileConfig("3.1.0", "/"+d+"=x"))
			}
			h.write(h.configFile, fileConfig("3.1.0", "/provider=x"))
			cfg, err := h.acquirer().Acquire(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(cfg); !reflect.DeepEqual(got, []string{"/" + tt.want}) {
				t.Errorf("files = %v, want only /%s", got, tt.want)
			}
			if logs := h.logs.String(); !strings.Contains(logs, filepath.Join(dirs[tt.want], "user.ign")) {
				t.Errorf("log does not name the user config used:\n%s", logs)
			}
		})
	}
}

func TestBaseOrderOverrideAndMask(t *testing.T) {
	h := newHost(t)
	h.write(filepath.Join(h.system, "base.d/10-a.ign"), fileConfig("3.0.0", "/a=sys", "/shared=10"))
	h.write(filepath.Join(h.system, "base.d/20-b.ign"), fileConfig("3.0.0", "/b-system=sys", "/shared=20-system"))
	h.write(filepath.Join(h.local, "base.d/20-b.ign"), fileConfig("3.3.0", "/b-local=local", "/shared=20-local"))
	h.write(filepath.Join(h.runtime, "base.d/15-c.ign"), fileConfig("3.4.0", "/c=run", "/shared=15"))
	h.write(filepath.Join(h.system, "base.d/30-masked.ign"), fileConfig("3.0.0", "/masked=sys"))
	if err := os.Symlink(os.DevNull, filepath.Join(h.runtime, "base.d/30-masked.ign")); err != nil {
		t.Fatal(err)
	}
	h.write(filepath.Join(h.system, "base.d/README"), "not a config")
	if err := os.MkdirAll(filepath.Join(h.local, "base.d/dir.ign"), 0o755); err != nil {
		t.Fatal(err)
	}
	// No user config: the base configs alone.
	cfg, err := h.acquirer().Acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	// Merging keeps a path where it first appeared and appends new ones,
	// so the order shows the merge order: 10 (system), 15 (runtime), 20
	// (local, overriding system's 20).
	want := []string{"/a", "/shared", "/c", "/b-local"}
	if got := paths(cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	if got := files(t, cfg)["/shared"]; got != "20-local" {
		t.Errorf("/shared = %q, want the last fragment by name (20-local)", got)
	}
	logs := h.logs.String()
	for _, w := range []string{"overrides " + filepath.Join(h.system, "base.d/20-b.ign"), "30-masked.ign is masked"} {
		if !strings.Contains(logs, w) {
			t.Errorf("log lacks %q:\n%s", w, logs)
		}
	}
}

func TestBasePlatformDir(t *testing.T) {
	h := newHost(t)
	h.write(filepath.Join(h.system, "base.d/50-generic.ign"), fileConfig("3.0.0", "/generic=g", "/who=generic"))
	// Sorts before 50-generic.ign but comes after all of base.d.
	h.write(filepath.Join(h.system, "base.platform.d/file/00-platform.ign"), fileConfig("3.0.0", "/platform=p", "/who=platform"))
	h.write(filepath.Join(h.runtime, "base.platform.d/file/01-runtime.ign"), fileConfig("3.0.0", "/platform-run=p"))
	h.write(filepath.Join(h.system, "base.platform.d/qemu/00-qemu.ign"), fileConfig("3.0.0", "/qemu=q"))
	h.write(filepath.Join(h.system, "base.platform.d/00-stray.ign"), fileConfig("3.0.0", "/stray=s"))
	cfg, err := h.acquirer().Acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/generic", "/who", "/platform", "/platform-run"}
	if got := paths(cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	if got := files(t, cfg)["/who"]; got != "platform" {
		t.Errorf("/who = %q, want the platform fragment's", got)
	}
}

func TestBaseAndUserMerge(t *testing.T) {
	h := newHost(t)
	h.write(filepath.Join(h.system, "base.d/10-base.ign"), `{
		"ignition": {"version": "3.0.0"},
		"storage": {"files": [
			{"path": "/etc/motd", "contents": {"source": "data:,base"}},
			{"path": "/etc/base-only", "contents": {"source": "data:,base"}}
		]},
		"systemd": {"units": [{"name": "base.service", "enabled": true}]}
	}`)
	h.write(filepath.Join(h.local, "user.ign"), fileConfig("3.4.0", "/etc/motd=user", "/etc/user-only=user"))
	cfg, err := h.acquirer().Acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/etc/motd": "user", "/etc/base-only": "base", "/etc/user-only": "user"}
	if got := files(t, cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	if len(cfg.Systemd.Units) != 1 || cfg.Systemd.Units[0].Name != "base.service" {
		t.Errorf("units = %+v, want the base unit", cfg.Systemd.Units)
	}
}

// A user config's children are rendered into it before it is merged over
// the base configs: a replace child replaces the user config only.
func TestUserReplaceKeepsBase(t *testing.T) {
	h := newHost(t)
	h.write(filepath.Join(h.system, "base.d/10-base.ign"), fileConfig("3.0.0", "/base=b", "/shared=base"))
	replacement := fileConfig("3.4.0", "/replacement=r", "/shared=replacement")
	h.write(filepath.Join(h.runtime, "user.ign"), `{"ignition": {"version": "3.4.0", "config": {"replace": {"source": "`+dataURL(replacement)+`"}}},
		"storage": {"files": [{"path": "/replaced", "contents": {"source": "data:,gone"}}]}}`)
	cfg, err := h.acquirer().Acquire(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/base": "b", "/shared": "replacement", "/replacement": "r"}
	if got := files(t, cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
}

func TestChildrenRendered(t *testing.T) {
	h := newHost(t)
	srv := newServer(t, map[string]string{
		"/http-child.ign": fileConfig("3.2.0", "/http-child=h", "/shared=http"),
	})
	dataChild := fileConfig("3.1.0", "/data-child=d", "/shared=data")
	h.write(filepath.Join(h.local, "user.ign"), mergeConfig([]string{dataURL(dataChild), srv.URL + "/http-child.ign"}, "/user=u", "/shared=user"))
	// A base config's children are rendered too.
	h.write(filepath.Join(h.system, "base.d/10-base.ign"), mergeConfig([]string{dataURL(fileConfig("3.0.0", "/base-child=bc"))}, "/base=b"))
	cfg, err := h.acquirer().Acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/base": "b", "/base-child": "bc", "/user": "u", "/data-child": "d", "/http-child": "h", "/shared": "http"}
	if got := files(t, cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	if hits, accept := srv.requests(); hits != 1 || accept != configs.Accept {
		t.Errorf("server saw %d requests with Accept %q", hits, accept)
	}
}

// The kernel command line URL is the origin of the user config, so a child
// naming it again is a cycle.
func TestCmdlineURLIsOrigin(t *testing.T) {
	h := newHost(t)
	srv := newServer(t, nil)
	srv.files = map[string]string{"/self.ign": mergeConfig([]string{srv.URL + "/self.ign"}, "/x=x")}
	h.write(h.cmdline, "ignition.config.url="+srv.URL+"/self.ign")
	_, err := h.acquirer().Acquire(context.Background(), false)
	if !errors.Is(err, configs.ErrCycle) {
		t.Fatalf("err = %v, want a cycle", err)
	}
	// Found before fetching the URL a second time.
	if hits, _ := srv.requests(); hits != 1 {
		t.Errorf("server saw %d requests, want 1", hits)
	}
}

func TestRedactedInLogs(t *testing.T) {
	h := newHost(t)
	srv := newServer(t, map[string]string{"/u.ign": fileConfig("3.0.0", "/x=x")})
	u := strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1) + "/u.ign?token=t0psecret"
	h.write(h.cmdline, "ignition.config.url="+u)
	if _, err := h.acquirer().Acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	logs := h.logs.String()
	if strings.Contains(logs, "s3cret") || strings.Contains(logs, "t0psecret") {
		t.Errorf("secrets in the log:\n%s", logs)
	}
	if !strings.Contains(logs, "[finished] fetching the config from") {
		t.Errorf("fetch not logged as an operation:\n%s", logs)
	}
}

func TestOfflineNeedsNetwork(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *host, srvURL string)
	}{
		{"http child of user.ign", func(h *host, u string) {
			h.write(filepath.Join(h.system, "user.ign"), mergeConfig([]string{u + "/child.ign"}, "/user=u"))
		}},
		{"http URL on the kernel command line", func(h *host, u string) {
			h.write(h.cmdline, "ignition.config.url="+u+"/user.ign")
		}},
		{"http child behind a data child", func(h *host, u string) {
			mid := mergeConfig([]string{u + "/child.ign"}, "/mid=m")
			h.write(filepath.Join(h.runtime, "user.ign"), mergeConfig([]string{dataURL(mid)}, "/user=u"))
		}},
		{"https CA of a config with a child", func(h *host, u string) {
			h.write(filepath.Join(h.local, "user.ign"), `{"ignition": {"version": "3.4.0",
				"config": {"merge": [{"source": "`+dataURL(fileConfig("3.0.0", "/c=c"))+`"}]},
				"security": {"tls": {"certificateAuthorities": [{"source": "`+u+`/ca.pem"}]}}}}`)
		}},
		{"http child of a base config", func(h *host, u string) {
			h.write(filepath.Join(h.system, "base.d/10.ign"), mergeConfig([]string{u + "/child.ign"}))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t)
			srv := newServer(t, map[string]string{
				"/user.ign":  fileConfig("3.0.0", "/user=u"),
				"/child.ign": fileConfig("3.0.0", "/child=c"),
				"/ca.pem":    testCA(t),
			})
			tt.setup(h, srv.URL)
			_, err := h.acquirer().Run(context.Background(), true)
			if !errors.Is(err, ErrNeedNet) || !errors.Is(err, resource.ErrNeedsNetwork) {
				t.Fatalf("err = %v, want ErrNeedNet", err)
			}
			if fi, err := os.Stat(h.neednet); err != nil || fi.Size() != 0 {
				t.Errorf("neednet flag: %v, %v; want an empty file", fi, err)
			}
			if _, err := os.Stat(h.cache); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cache written offline: %v", err)
			}
			if hits, _ := srv.requests(); hits != 0 {
				t.Errorf("offline stage made %d requests", hits)
			}
			if logs := h.logs.String(); strings.Contains(logs, "CRITICAL") {
				t.Errorf("needing the network logged as a failure:\n%s", logs)
			}

			// The fetch stage then runs with the network.
			cfg, err := h.acquirer().Run(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if hits, _ := srv.requests(); hits == 0 {
				t.Errorf("fetch stage made no requests")
			}
			cached, err := ReadCache(h.cache)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cached, cfg) {
				t.Errorf("cache differs from the returned config")
			}
		})
	}
}

func TestOfflineDataOnlyWritesCache(t *testing.T) {
	h := newHost(t)
	child := fileConfig("3.0.0", "/child=c")
	h.write(filepath.Join(h.local, "user.ign"), mergeConfig([]string{dataURL(child)}, "/user=u"))
	cfg, err := h.acquirer().Run(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(h.neednet); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("neednet written: %v", err)
	}
	cached, err := ReadCache(h.cache)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cached, cfg) {
		t.Errorf("cache = %+v, want %+v", cached, cfg)
	}
	if want := map[string]string{"/user": "u", "/child": "c"}; !reflect.DeepEqual(files(t, cfg), want) {
		t.Errorf("files = %v, want %v", files(t, cfg), want)
	}

	// The fetch stage finds the cache and does not acquire again, even
	// though the sources have changed since.
	h.write(filepath.Join(h.local, "user.ign"), fileConfig("3.0.0", "/changed=x"))
	again, err := h.acquirer().Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Errorf("fetch stage returned %v, want the cached config", paths(again))
	}
	if logs := h.logs.String(); !strings.Contains(logs, "not fetching again") {
		t.Errorf("reuse of the cache not logged:\n%s", logs)
	}
}

func TestRunCorruptedCache(t *testing.T) {
	h := newHost(t)
	h.write(h.cache, `{"ignition": {"version": "3.4.0"`)
	h.write(filepath.Join(h.local, "user.ign"), fileConfig("3.0.0", "/x=x"))
	_, err := h.acquirer().Run(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), h.cache) || !strings.Contains(err.Error(), "corrupted") {
		t.Fatalf("err = %v, want a corrupted cache error naming %s", err, h.cache)
	}
}

func TestInvalidConfigs(t *testing.T) {
	badPath := `{
  "ignition": {"version": "3.4.0"},
  "storage": {
    "files": [
      {"path": "relative/path"}
    ]
  }
}`
	badSyntax := "{\n  \"ignition\": {\"version\": \"3.4.0\"},\n  \"storage\": [,\n}"
	tests := []struct {
		name  string
		setup func(h *host) string // returns the file the error must name
		want  []string
	}{
		{"user.ign invalid value", func(h *host) string {
			p := filepath.Join(h.local, "user.ign")
			h.write(p, badPath)
			return p
		}, []string{"line 5 col 16", "$.storage.files.0.path", config.ErrInvalid.Error()}},
		{"user.ign syntax error", func(h *host) string {
			p := filepath.Join(h.runtime, "user.ign")
			h.write(p, badSyntax)
			return p
		}, []string{"line 3 col 15"}},
		{"user.ign empty", func(h *host) string {
			p := filepath.Join(h.system, "user.ign")
			h.write(p, "")
			return p
		}, []string{config.ErrEmpty.Error()}},
		{"provider config invalid", func(h *host) string {
			h.write(h.configFile, badPath)
			return `platform "file"`
		}, []string{"line 5 col 16"}},
		{"base config invalid", func(h *host) string {
			p := filepath.Join(h.local, "base.d/10-bad.ign")
			h.write(filepath.Join(h.system, "base.d/05-good.ign"), fileConfig("3.0.0", "/ok=ok"))
			h.write(p, badPath)
			h.write(filepath.Join(h.local, "user.ign"), fileConfig("3.0.0", "/x=x"))
			return p
		}, []string{"base config", "line 5 col 16"}},
		{"base config unsupported version", func(h *host) string {
			p := filepath.Join(h.runtime, "base.platform.d/file/10.ign")
			h.write(p, `{"ignition": {"version": "2.2.0"}}`)
			return p
		}, []string{"line 1 col 26", "unsupported config version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t)
			name := tt.setup(h)
			_, err := h.acquirer().Run(context.Background(), false)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append([]string{name}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if _, err := os.Stat(h.cache); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cache written for an invalid config: %v", err)
			}
		})
	}
}

func TestParseWarningsLogged(t *testing.T) {
	h := newHost(t)
	p := filepath.Join(h.local, "user.ign")
	h.write(p, `{"ignition": {"version": "3.4.0"}, "storage": {"filez": []}}`)
	if _, err := h.acquirer().Acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	var found bool
	for line := range strings.SplitSeq(h.logs.String(), "\n") {
		if strings.HasPrefix(line, "WARNING") && strings.Contains(line, p) && strings.Contains(line, "filez") && strings.Contains(line, "line 1 col") {
			found = true
		}
	}
	if !found {
		t.Errorf("no WARNING line for the unused key:\n%s", h.logs)
	}
}

func TestNoConfigAnywhere(t *testing.T) {
	h := newHost(t)
	h.write(h.configFile, "") // the provider answers, with nothing
	_, err := h.acquirer().Acquire(context.Background(), false)
	if !errors.Is(err, ErrConfigNotFound) {
		t.Fatalf("err = %v, want ErrConfigNotFound", err)
	}
	for _, w := range []string{
		"no config found: checked",
		h.cmdline,
		filepath.Join(h.runtime, "user.ign"),
		filepath.Join(h.local, "user.ign"),
		filepath.Join(h.system, "user.ign"),
		`platform "file"`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

func TestProviderNoConfigUsesBase(t *testing.T) {
	h := newHost(t)
	// No config file: the file platform says there is no config.
	h.write(filepath.Join(h.system, "base.d/10.ign"), fileConfig("3.0.0", "/base=b"))
	cfg, err := h.acquirer().Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(cfg); !reflect.DeepEqual(got, []string{"/base"}) {
		t.Errorf("files = %v, want the base config's", got)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "using the base configs only") {
		t.Errorf("not logged:\n%s", logs)
	}

	// With no base configs either, the config is empty but valid.
	h2 := newHost(t)
	cfg, err = h2.acquirer().Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Ignition.Version != config.Latest.String() || len(cfg.Storage.Files) != 0 {
		t.Errorf("config = %+v, want empty at %s", cfg, config.Latest)
	}
}

func TestUnknownPlatform(t *testing.T) {
	h := newHost(t)
	a := h.acquirer()
	a.Platform = "nonesuch"
	_, err := a.Acquire(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), `"nonesuch"`) || !strings.Contains(err.Error(), "file") {
		t.Fatalf("err = %v, want unknown platform listing the known ones", err)
	}
}

// Merging takes the child's version: an experimental base config under a
// stable user config is stamped experimental, so the cache reads back.
func TestVersionStamp(t *testing.T) {
	h := newHost(t)
	h.write(filepath.Join(h.system, "base.d/10.ign"), `{"ignition": {"version": "3.7.0-experimental"},
		"storage": {"filesystems": [{"device": "share", "format": "virtiofs", "path": "/mnt/share"}]}}`)
	h.write(filepath.Join(h.local, "user.ign"), fileConfig("3.4.0", "/x=x"))
	cfg, err := h.acquirer().Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Ignition.Version != "3.7.0-experimental" {
		t.Errorf("version = %q", cfg.Ignition.Version)
	}
	if _, err := ReadCache(h.cache); err != nil {
		t.Fatal(err)
	}
}

// Configs that are each valid can merge into an invalid one; that is
// reported by path, not written to the cache.
func TestAssembledConfigInvalid(t *testing.T) {
	h := newHost(t)
	h.write(filepath.Join(h.system, "base.d/10.ign"), `{"ignition": {"version": "3.4.0"},
		"storage": {"links": [{"path": "/etc/app", "target": "/opt/app"}]}}`)
	h.write(filepath.Join(h.local, "user.ign"), fileConfig("3.4.0", "/etc/app/conf=x"))
	_, err := h.acquirer().Run(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), "assembled config") || !strings.Contains(err.Error(), "$.storage.files.0") {
		t.Fatalf("err = %v, want the assembled config rejected", err)
	}
	if _, err := os.Stat(h.cache); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cache written: %v", err)
	}
}

func TestDefaultPaths(t *testing.T) {
	a := &Acquirer{Env: func(string) (string, bool) { return "", false }}
	p := a.paths()
	want := Paths{
		KernelCmdline:    "/proc/cmdline",
		SystemConfigDir:  "/usr/lib/ignition",
		LocalConfigDir:   "/etc/ignition",
		RuntimeConfigDir: "/run/ignition",
		Cache:            "/run/ignition.json",
		NeedNet:          "/run/ignition/neednet",
	}
	if p != want {
		t.Errorf("paths = %+v, want %+v", p, want)
	}
	// Explicit fields beat the environment, which beats the defaults.
	a = &Acquirer{
		Env:   func(k string) (string, bool) { return "/env/" + k, true },
		Paths: Paths{LocalConfigDir: "/explicit"},
	}
	p = a.paths()
	if p.LocalConfigDir != "/explicit" || p.SystemConfigDir != "/env/"+SystemConfigDirEnv || p.KernelCmdline != "/env/"+KernelCmdlineEnv {
		t.Errorf("paths = %+v", p)
	}
}

func TestFetchOutcome(t *testing.T) {
	// Base configs only: no user config provided.
	h := newHost(t)
	h.write(filepath.Join(h.system, "base.d/10-base.ign"), fileConfig("3.4.0", "/etc/base=b"))
	out, err := h.acquirer().Fetch(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if out.UserConfigProvided || out.FromCache {
		t.Errorf("base configs only: %+v", out)
	}
	if got := paths(out.Config); len(got) != 1 || got[0] != "/etc/base" {
		t.Errorf("config files %v", got)
	}
	// The second run reads the cache.
	out, err = h.acquirer().Fetch(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if !out.FromCache || out.UserConfigProvided {
		t.Errorf("second run: %+v", out)
	}

	// A user config from the platform.
	h = newHost(t)
	h.write(h.configFile, fileConfig("3.4.0", "/etc/user=u"))
	out, err = h.acquirer().Fetch(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if !out.UserConfigProvided || out.FromCache {
		t.Errorf("user config: %+v", out)
	}
}
