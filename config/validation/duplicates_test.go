package validation_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/config/v3_6"
	"github.com/ignition-go/ignition/config/validation"
)

func TestDuplicates(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "merge", json: `{"ignition":{"config":{"merge":[{"source":"http://a"},{"source":"http://b"},{"source":"http://a"}]}}}`,
			want: []entry{E("$.ignition.config.merge.2", msgDuplicate)}},
		{name: "merge without sources 3.0", version: "3.0.0", json: `{"ignition":{"config":{"merge":[{},{}]}}}`,
			want: []entry{E("$.ignition.config.merge.1", msgDuplicate)}},
		{name: "certificate authorities", json: `{"ignition":{"security":{"tls":{"certificateAuthorities":[{"source":"data:,a"},{"source":"data:,a"}]}}}}`,
			want: []entry{E("$.ignition.security.tls.certificateAuthorities.1", msgDuplicate)}},
		{name: "disks", json: `{"storage":{"disks":[{"device":"/dev/sda"},{"device":"/dev/sdb"},{"device":"/dev/sda"}]}}`,
			want: []entry{E("$.storage.disks.2", msgDuplicate)}},
		{name: "partitions by label", json: disk("/dev/sda", `[{"label":"a"},{"number":1,"label":"a"},{"label":"a"}]`),
			want: []entry{E("$.storage.disks.0.partitions.1", msgPartLabelTwice), E("$.storage.disks.0.partitions.2", msgDuplicate)}},
		{name: "partitions by number not label", json: disk("/dev/sda", `[{"number":1,"label":"a"},{"number":2,"label":"b"},{"label":"c"}]`)},
		{name: "filesystems", json: `{"storage":{"filesystems":[{"device":"/dev/sda1"},{"device":"/dev/sda1"}]}}`,
			want: []entry{E("$.storage.filesystems.1", msgDuplicate)}},
		{name: "raid", json: `{"storage":{"raid":[{"name":"md","level":"1","devices":["/dev/a"]},{"name":"md","level":"1","devices":["/dev/b"]}]}}`,
			want: []entry{E("$.storage.raid.1", msgDuplicate)}},
		{name: "luks", json: `{"storage":{"luks":[{"name":"a","device":"/dev/a"},{"name":"a","device":"/dev/b"}]}}`,
			want: []entry{E("$.storage.luks.1", msgDuplicate)}},
		{name: "luks open options", json: luks(`"openOptions":["--x","--y","--x"],"options":["--x","--x"]`),
			want: []entry{E("$.storage.luks.0.openOptions.2", msgDuplicate)}},
		// Files, directories and links share one namespace, scanned in
		// that order: directories, files, links.
		{name: "nodes", json: `{"storage":{"links":[{"path":"/a","target":"/t"}],"files":[{"path":"/a"},{"path":"/b"}],"directories":[{"path":"/b"},{"path":"/a"}]}}`,
			want: []entry{E("$.storage.files.0", msgDuplicate), E("$.storage.files.1", msgDuplicate), E("$.storage.links.0", msgDuplicate)}},
		{name: "files", json: `{"storage":{"files":[{"path":"/a"},{"path":"/a"}]}}`,
			want: []entry{E("$.storage.files.1", msgDuplicate)}},
		{name: "append is not deduplicated", json: `{"storage":{"files":[{"path":"/a","append":[{"source":"data:,x"},{"source":"data:,x"}]}]}}`},
		{name: "units", json: `{"systemd":{"units":[{"name":"a.service"},{"name":"a.service"}]}}`,
			want: []entry{E("$.systemd.units.1", msgDuplicate)}},
		{name: "dropins", json: `{"systemd":{"units":[{"name":"a.service","dropins":[{"name":"x.conf"},{"name":"x.conf"}]},{"name":"b.service","dropins":[{"name":"x.conf"}]}]}}`,
			want: []entry{E("$.systemd.units.0.dropins.1", msgDuplicate)}},
		{name: "users", json: `{"passwd":{"users":[{"name":"core"},{"name":"core"}]}}`,
			want: []entry{E("$.passwd.users.1", msgDuplicate)}},
		{name: "user keys and groups", json: `{"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["k1","k2","k1"],"groups":["wheel","wheel"]}]}}`,
			want: []entry{E("$.passwd.users.0.groups.1", msgDuplicate), E("$.passwd.users.0.sshAuthorizedKeys.2", msgDuplicate)}},
		{name: "groups", json: `{"passwd":{"groups":[{"name":"g"},{"name":"h"},{"name":"g"}]}}`,
			want: []entry{E("$.passwd.groups.2", msgDuplicate)}},
		// Arguments that should and should not exist share one namespace.
		{name: "kernel arguments", json: `{"kernelArguments":{"shouldExist":["a","b","a"],"shouldNotExist":["c","b"]}}`,
			want: []entry{E("$.kernelArguments.shouldExist.2", msgDuplicate), E("$.kernelArguments.shouldNotExist.1", msgDuplicate)}},
		{name: "distinct kernel arguments", json: `{"kernelArguments":{"shouldExist":["a"],"shouldNotExist":["b"]}}`},
		// Rules first, then duplicates, each in walk order.
		{name: "order", json: `{"passwd":{"users":[{"name":"u"},{"name":"u"}]},"storage":{"files":[{"path":"/a"},{"path":"a"},{"path":"a"}]},"systemd":{"units":[{"name":"x"},{"name":"x"}]}}`,
			want: []entry{
				E("$.storage.files.1.path", msgPathRelative), E("$.storage.files.2.path", msgPathRelative),
				E("$.systemd.units.0.name", msgUnitExt), E("$.systemd.units.1.name", msgUnitExt),
				E("$.passwd.users.1", msgDuplicate), E("$.storage.files.2", msgDuplicate), E("$.systemd.units.1", msgDuplicate),
			}},
	})
}

// TestEveryListHasIdentity fills every list in the config types with two
// zero entries and checks that each list not tagged list:"append" reports
// the second one: a new list cannot be forgotten by the duplicate check.
func TestEveryListHasIdentity(t *testing.T) {
	var cfg types.Config
	var want []string // list paths, dotted without indices
	var fill func(v reflect.Value, at string)
	fill = func(v reflect.Value, at string) {
		tp := v.Type()
		for i := range tp.NumField() {
			sf := tp.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			p := at
			if !sf.Anonymous {
				p = at + "." + name
			}
			f := v.Field(i)
			switch f.Kind() {
			case reflect.Struct:
				fill(f, p)
			case reflect.Slice:
				f.Set(reflect.MakeSlice(f.Type(), 2, 2))
				if sf.Tag.Get("list") != "append" {
					want = append(want, p)
				}
				if f.Type().Elem().Kind() == reflect.Struct {
					fill(f.Index(0), p+".0")
				}
			}
		}
	}
	fill(reflect.ValueOf(&cfg).Elem(), "$")

	got := map[string]bool{}
	for _, e := range validation.Validate(&cfg, &v3_6.Spec).Entries {
		if e.Message == msgDuplicate {
			got[e.Context.String()] = true
		}
	}
	for _, p := range want {
		// In a shared namespace the second list's first entry already
		// collides; otherwise the list's own second entry does.
		if !got[p+".1"] && !got[p+".0"] {
			t.Errorf("no duplicate reported in %s", p)
		}
	}
	for _, p := range []string{"$.storage.files.0.append.1", "$.storage.raid.0.options.1", "$.storage.luks.0.options.1", "$.storage.filesystems.0.options.1", "$.storage.filesystems.0.mountOptions.1"} {
		if got[p] {
			t.Errorf("duplicate reported in appended list at %s", p)
		}
	}
	if len(want) < 20 {
		t.Errorf("only %d lists found: %v", len(want), want)
	}
}
