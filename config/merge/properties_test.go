package merge

import (
	"reflect"
	"testing"

	"github.com/ignition-go/ignition/config/types"
)

// rich returns a config that sets every field of every type reachable from
// types.Config at least once (TestRichCoversEveryField checks this), so
// whole-config properties exercise every rule. Each call builds fresh
// memory, which lets tests compare an input with an untouched twin.
func rich() types.Config {
	res := func(src string) types.Resource {
		return types.Resource{
			Compression:  ptr("gzip"),
			HTTPHeaders:  []types.HTTPHeader{{Name: "Auth", Value: ptr("x")}, {Name: "Gone"}},
			Source:       ptr(src),
			Verification: types.Verification{Hash: ptr("sha512-" + src)},
		}
	}
	owner := func(id int, name string) types.NodeOwner {
		return types.NodeOwner{ID: ptr(id), Name: ptr(name)}
	}
	node := func(path string) types.Node {
		return types.Node{Group: owner(1, "g"), Overwrite: ptr(true), Path: path, User: owner(2, "u")}
	}
	return types.Config{
		Ignition: types.Ignition{
			Config: types.IgnitionConfig{
				Merge:   []types.Resource{res("https://m1"), res("https://m2")},
				Replace: res("https://r"),
			},
			Proxy: types.Proxy{
				HTTPProxy: ptr("http://p"), HTTPSProxy: ptr("https://p"),
				NoProxy: []string{"a", "b"},
			},
			Security: types.Security{TLS: types.TLS{CertificateAuthorities: []types.Resource{res("https://ca")}}},
			Timeouts: types.Timeouts{HTTPResponseHeaders: ptr(0), HTTPTotal: ptr(30)},
			Version:  "3.6.0",
		},
		KernelArguments: types.KernelArguments{
			ShouldExist: []string{"quiet", "a=1"}, ShouldNotExist: []string{"rhgb"},
		},
		Passwd: types.Passwd{
			Groups: []types.PasswdGroup{{
				Gid: ptr(100), Name: "grp", PasswordHash: ptr("$6$g"), ShouldExist: ptr(true), System: ptr(false),
			}},
			Users: []types.PasswdUser{{
				Gecos: ptr("Core"), Groups: []string{"wheel", "adm"}, HomeDir: ptr("/home/core"), Name: "core",
				NoCreateHome: ptr(false), NoLogInit: ptr(true), NoUserGroup: ptr(false), PasswordHash: ptr("$6$u"),
				PrimaryGroup: ptr("grp"), SSHAuthorizedKeys: []string{"ssh-ed25519 A", "ssh-ed25519 B"},
				Shell: ptr("/bin/bash"), ShouldExist: ptr(true), System: ptr(false), UID: ptr(1000),
			}, {Name: "other"}},
		},
		Storage: types.Storage{
			Directories: []types.Directory{{Node: node("/d"), Mode: ptr(0o755)}},
			Disks: []types.Disk{{
				Device: "/dev/vda",
				Partitions: []types.Partition{{
					GUID: ptr("guid"), Label: ptr("root"), Number: 4, Resize: ptr(true), ShouldExist: ptr(true),
					SizeMiB: ptr(0), StartMiB: ptr(1), TypeGUID: ptr("type"), WipePartitionEntry: ptr(false),
				}, {Label: ptr("data")}},
				WipeTable: ptr(false),
			}},
			Files: []types.File{{
				Node:     node("/f"),
				Append:   []types.Resource{res("https://a1"), res("https://a1")},
				Contents: res("https://c"),
				Mode:     ptr(0o644),
			}},
			Filesystems: []types.Filesystem{{
				Device: "/dev/disk/by-partlabel/root", Format: ptr("xfs"), Label: ptr("root"),
				MountOptions: []string{"ro"}, Options: []string{"-m", "0"}, Path: ptr("/var"),
				UUID: ptr("uuid"), WipeFilesystem: ptr(true),
			}},
			Links: []types.Link{{Node: node("/l"), Hard: ptr(false), Target: ptr("/f")}},
			Luks: []types.Luks{{
				Cex: types.Cex{Enabled: ptr(false)},
				Clevis: types.Clevis{
					Custom:    types.ClevisCustom{Config: ptr("{}"), NeedsNetwork: ptr(true), Pin: ptr("tpm2")},
					Tang:      []types.Tang{{Advertisement: ptr("{}"), Thumbprint: ptr("tp"), URL: "http://tang"}},
					Threshold: ptr(1),
					Tpm2:      ptr(true),
				},
				Device: ptr("/dev/vdb"), Discard: ptr(true), KeyFile: res("https://k"), Label: ptr("luks"),
				Name: "crypt", OpenOptions: []string{"--perf"}, Options: []string{"--cipher", "aes"},
				UUID: ptr("luks-uuid"), WipeVolume: ptr(false),
			}},
			Raid: []types.Raid{{
				Devices: []string{"/dev/vdc", "/dev/vdd"}, Level: ptr("raid1"), Name: "md0",
				Options: []string{"--metadata=1.0"}, Spares: ptr(0),
			}},
		},
		Systemd: types.Systemd{Units: []types.Unit{{
			Contents: ptr("[Unit]"),
			Dropins:  []types.Dropin{{Contents: ptr("[Service]"), Name: "10.conf"}},
			Enabled:  ptr(true), Mask: ptr(false), Name: "a.service",
		}}},
	}
}

// other returns a config that overlaps rich() in some keys and not others
// and leaves many fields unset, so merging the two takes every branch.
func other() types.Config {
	return types.Config{
		Ignition: types.Ignition{
			Config: types.IgnitionConfig{
				Merge: []types.Resource{{Source: ptr("https://m2"), HTTPHeaders: []types.HTTPHeader{{Name: "Auth"}}}},
			},
			Proxy:    types.Proxy{NoProxy: []string{"b", "c"}},
			Timeouts: types.Timeouts{HTTPTotal: ptr(5)},
			Version:  "3.5.0",
		},
		KernelArguments: types.KernelArguments{ShouldNotExist: []string{"quiet"}},
		Passwd: types.Passwd{Users: []types.PasswdUser{
			{Name: "core", SSHAuthorizedKeys: []string{"ssh-ed25519 C"}},
		}},
		Storage: types.Storage{
			Disks: []types.Disk{{Device: "/dev/vda", Partitions: []types.Partition{{Number: 4, SizeMiB: ptr(100)}}}},
			Files: []types.File{
				{Node: types.Node{Path: "/l"}, Contents: types.Resource{Source: ptr("data:,x")}},
				{Node: types.Node{Path: "/f", User: types.NodeOwner{ID: ptr(0)}}, Append: []types.Resource{{Source: ptr("https://a2")}}},
			},
			Luks: []types.Luks{{Name: "crypt", Clevis: types.Clevis{Tang: []types.Tang{{URL: "http://tang2"}}}}},
		},
		Systemd: types.Systemd{Units: []types.Unit{{Name: "a.service", Dropins: []types.Dropin{{Name: "20.conf"}}}}},
	}
}

func TestMergeWithEmptyIsIdentity(t *testing.T) {
	empties := map[string]types.Config{
		"empty config": {},
		// Non-empty ignition section: merged field by field, not taken whole.
		"version only": {Ignition: version(rich().Ignition.Version)},
	}
	for name, empty := range empties {
		t.Run(name+" as child", func(t *testing.T) {
			checkEqual(t, Merge(rich(), empty), rich())
		})
		t.Run(name+" as parent", func(t *testing.T) {
			checkEqual(t, Merge(empty, rich()), rich())
		})
	}
}

// TestNoAliasing checks that Merge leaves its inputs alone and that its
// result shares no memory with them, in both directions.
func TestNoAliasing(t *testing.T) {
	inputs := map[string]func() types.Config{
		"rich":  rich,
		"other": other,
		"empty": func() types.Config { return types.Config{} },
	}
	for pname, parent := range inputs {
		for cname, child := range inputs {
			t.Run(pname+"+"+cname, func(t *testing.T) {
				p, c := parent(), child()
				got := Merge(p, c)
				if !reflect.DeepEqual(p, parent()) {
					t.Errorf("Merge changed its parent:\n%s", show(p))
				}
				if !reflect.DeepEqual(c, child()) {
					t.Errorf("Merge changed its child:\n%s", show(c))
				}

				// Writing through the result must not reach the inputs.
				if !scribble(reflect.ValueOf(&got).Elem()) {
					t.Fatal("scribble changed nothing")
				}
				if !reflect.DeepEqual(p, parent()) {
					t.Errorf("writing the result changed the parent:\n%s", show(p))
				}
				if !reflect.DeepEqual(c, child()) {
					t.Errorf("writing the result changed the child:\n%s", show(c))
				}

				// Nor must writing through the inputs reach a result.
				got = Merge(p, c)
				scribble(reflect.ValueOf(&p).Elem())
				scribble(reflect.ValueOf(&c).Elem())
				checkEqual(t, got, Merge(parent(), child()))
			})
		}
	}
}

// scribble changes every scalar reachable from v in place, following
// pointers and slice elements, and reports whether it changed anything.
func scribble(v reflect.Value) bool {
	changed := false
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			changed = scribble(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			changed = scribble(v.Index(i)) || changed
		}
	case reflect.Struct:
		for i := range v.NumField() {
			changed = scribble(v.Field(i)) || changed
		}
	case reflect.String:
		v.SetString(v.String() + "!")
		changed = true
	case reflect.Int:
		v.SetInt(v.Int() + 1)
		changed = true
	case reflect.Bool:
		v.SetBool(!v.Bool())
		changed = true
	}
	return changed
}

// TestRichCoversEveryField keeps the whole-config tests above meaningful
// as config/types grows: every field of every struct reachable from
// types.Config must be set somewhere in rich().
func TestRichCoversEveryField(t *testing.T) {
	set := map[reflect.Type]map[string]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Struct:
			if set[v.Type()] == nil {
				set[v.Type()] = map[string]bool{}
			}
			for i := range v.NumField() {
				if !isEmpty(v.Field(i)) {
					set[v.Type()][v.Type().Field(i).Name] = true
				}
				walk(v.Field(i))
			}
		}
	}
	walk(reflect.ValueOf(rich()))

	for typ := range plans {
		for i := range typ.NumField() {
			if name := typ.Field(i).Name; !set[typ][name] {
				t.Errorf("rich() never sets %s.%s", typ, name)
			}
		}
	}
	if _, ok := plans[reflect.TypeFor[types.Dropin]()]; !ok {
		t.Error("plans does not reach types.Dropin; the walk over types.Config is incomplete")
	}
}
