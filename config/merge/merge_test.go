package merge

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ignition-go/ignition/config/types"
)

func ptr[T any](v T) *T { return &v }

// show renders a config for failure messages. JSON hides nil-versus-empty
// differences, so %#v follows for the cases where the JSON matches.
func show(c types.Config) string {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func checkEqual(t *testing.T, got, want types.Config) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s\n(got %#v)", show(got), show(want), got)
	}
}

func version(v string) types.Ignition { return types.Ignition{Version: v} }

func TestMerge(t *testing.T) {
	tests := []struct {
		name                string
		parent, child, want types.Config
	}{
		// Optional (pointer) scalars.
		{
			name:   "child's pointer overrides parent's",
			parent: types.Config{Ignition: types.Ignition{Version: "3.5.0", Timeouts: types.Timeouts{HTTPTotal: ptr(10)}}},
			child:  types.Config{Ignition: types.Ignition{Version: "3.6.0", Timeouts: types.Timeouts{HTTPTotal: ptr(20)}}},
			want:   types.Config{Ignition: types.Ignition{Version: "3.6.0", Timeouts: types.Timeouts{HTTPTotal: ptr(20)}}},
		},
		{
			name:   "unset child pointer keeps parent's",
			parent: types.Config{Ignition: types.Ignition{Version: "3.6.0", Timeouts: types.Timeouts{HTTPTotal: ptr(10)}}},
			child:  types.Config{Ignition: types.Ignition{Version: "3.6.0", Timeouts: types.Timeouts{HTTPResponseHeaders: ptr(5)}}},
			want:   types.Config{Ignition: types.Ignition{Version: "3.6.0", Timeouts: types.Timeouts{HTTPResponseHeaders: ptr(5), HTTPTotal: ptr(10)}}},
		},
		{
			name: "child pointer to a zero value overrides",
			parent: types.Config{Systemd: types.Systemd{Units: []types.Unit{
				{Name: "a.service", Enabled: ptr(true), Contents: ptr("[Unit]")},
			}}},
			child: types.Config{Systemd: types.Systemd{Units: []types.Unit{
				{Name: "a.service", Enabled: ptr(false), Contents: ptr("")},
			}}},
			want: types.Config{Systemd: types.Systemd{Units: []types.Unit{
				{Name: "a.service", Enabled: ptr(false), Contents: ptr("")},
			}}},
		},

		// Plain scalars.
		{
			name:   "plain scalar takes child's value",
			parent: types.Config{Ignition: version("3.0.0")},
			child:  types.Config{Ignition: version("3.6.0")},
			want:   types.Config{Ignition: version("3.6.0")},
		},
		{
			name:   "plain scalar takes child's zero value",
			parent: types.Config{Ignition: types.Ignition{Version: "3.5.0", Timeouts: types.Timeouts{HTTPTotal: ptr(1)}}},
			child:  types.Config{Ignition: types.Ignition{Timeouts: types.Timeouts{HTTPTotal: ptr(2)}}},
			want:   types.Config{Ignition: types.Ignition{Timeouts: types.Timeouts{HTTPTotal: ptr(2)}}},
		},

		// Nested objects.
		{
			name: "empty child object keeps parent's, version included",
			parent: types.Config{Ignition: types.Ignition{
				Version: "3.5.0", Proxy: types.Proxy{HTTPProxy: ptr("http://proxy")},
			}},
			child: types.Config{Storage: types.Storage{Disks: []types.Disk{{Device: "/dev/sda"}}}},
			want: types.Config{
				Ignition: types.Ignition{Version: "3.5.0", Proxy: types.Proxy{HTTPProxy: ptr("http://proxy")}},
				Storage:  types.Storage{Disks: []types.Disk{{Device: "/dev/sda"}}},
			},
		},
		{
			name:   "child object holding only an empty list counts as empty",
			parent: types.Config{Ignition: types.Ignition{Version: "3.5.0", Proxy: types.Proxy{NoProxy: []string{"a"}}}},
			child:  types.Config{Ignition: types.Ignition{Proxy: types.Proxy{NoProxy: []string{}}}},
			want:   types.Config{Ignition: types.Ignition{Version: "3.5.0", Proxy: types.Proxy{NoProxy: []string{"a"}}}},
		},
		{
			name:   "empty parent object takes child's as it is",
			parent: types.Config{Ignition: version("3.6.0")},
			child: types.Config{Ignition: types.Ignition{
				Version: "3.6.0",
				Proxy:   types.Proxy{HTTPProxy: ptr("http://proxy"), NoProxy: []string{}},
			}},
			want: types.Config{Ignition: types.Ignition{
				Version: "3.6.0",
				Proxy:   types.Proxy{HTTPProxy: ptr("http://proxy"), NoProxy: []string{}},
			}},
		},
		{
			name: "objects set on both sides merge field by field",
			parent: types.Config{Storage: types.Storage{Luks: []types.Luks{{
				Name:    "data",
				Clevis:  types.Clevis{Tpm2: ptr(true), Custom: types.ClevisCustom{Pin: ptr("sss")}},
				KeyFile: types.Resource{Source: ptr("https://a/key"), Verification: types.Verification{Hash: ptr("sha512-aa")}},
			}}}},
			child: types.Config{Storage: types.Storage{Luks: []types.Luks{{
				Name:    "data",
				Clevis:  types.Clevis{Threshold: ptr(2), Custom: types.ClevisCustom{Config: ptr("{}")}},
				KeyFile: types.Resource{Compression: ptr("gzip")},
				Discard: ptr(true),
			}}}},
			want: types.Config{Storage: types.Storage{Luks: []types.Luks{{
				Name: "data",
				Clevis: types.Clevis{
					Tpm2: ptr(true), Threshold: ptr(2),
					Custom: types.ClevisCustom{Pin: ptr("sss"), Config: ptr("{}")},
				},
				KeyFile: types.Resource{
					Source: ptr("https://a/key"), Compression: ptr("gzip"),
					Verification: types.Verification{Hash: ptr("sha512-aa")},
				},
				Discard: ptr(true),
			}}}},
		},
		{
			name: "node owner merges inside the flattened node",
			parent: types.Config{Storage: types.Storage{Files: []types.File{{
				Node: types.Node{Path: "/f", User: types.NodeOwner{Name: ptr("core")}, Group: types.NodeOwner{ID: ptr(7)}},
			}}}},
			child: types.Config{Storage: types.Storage{Files: []types.File{{
				Node: types.Node{Path: "/f", User: types.NodeOwner{ID: ptr(1000)}, Overwrite: ptr(true)},
			}}}},
			want: types.Config{Storage: types.Storage{Files: []types.File{{
				Node: types.Node{
					Path: "/f", Overwrite: ptr(true),
					User: types.NodeOwner{ID: ptr(1000), Name: ptr("core")}, Group: types.NodeOwner{ID: ptr(7)},
				},
			}}}},
		},

		// Append lists.
		{
			name: "append lists put the child's entries after the parent's",
			parent: types.Config{Storage: types.Storage{
				Filesystems: []types.Filesystem{{Device: "/dev/a", Options: []string{"x", "y"}, MountOptions: []string{"ro"}}},
				Raid:        []types.Raid{{Name: "md0", Options: []string{"--a"}}},
				Luks:        []types.Luks{{Name: "l", Options: []string{"--b"}}},
				Files: []types.File{{Node: types.Node{Path: "/f"}, Append: []types.Resource{
					{Source: ptr("https://s/1")}, {Source: ptr("https://s/2")},
				}}},
			}},
			child: types.Config{Storage: types.Storage{
				Filesystems: []types.Filesystem{{Device: "/dev/a", Options: []string{"y", "z"}, MountOptions: []string{"ro"}}},
				Raid:        []types.Raid{{Name: "md0", Options: []string{"--c"}}},
				Luks:        []types.Luks{{Name: "l", Options: []string{"--d", "--b"}}},
				Files: []types.File{{Node: types.Node{Path: "/f"}, Append: []types.Resource{
					{Source: ptr("https://s/1"), Compression: ptr("gzip")},
				}}},
			}},
			want: types.Config{Storage: types.Storage{
				Filesystems: []types.Filesystem{{Device: "/dev/a", Options: []string{"x", "y", "y", "z"}, MountOptions: []string{"ro", "ro"}}},
				Raid:        []types.Raid{{Name: "md0", Options: []string{"--a", "--c"}}},
				Luks:        []types.Luks{{Name: "l", Options: []string{"--b", "--d", "--b"}}},
				Files: []types.File{{Node: types.Node{Path: "/f"}, Append: []types.Resource{
					{Source: ptr("https://s/1")}, {Source: ptr("https://s/2")},
					{Source: ptr("https://s/1"), Compression: ptr("gzip")},
				}}},
			}},
		},

		// Keyed lists.
		{
			name: "keyed merge keeps parent positions and appends new child entries in order",
			parent: types.Config{Systemd: types.Systemd{Units: []types.Unit{
				{Name: "a", Contents: ptr("A")},
				{Name: "b", Enabled: ptr(true)},
				{Name: "c", Mask: ptr(true)},
			}}},
			child: types.Config{Systemd: types.Systemd{Units: []types.Unit{
				{Name: "e", Contents: ptr("E")},
				{Name: "b", Mask: ptr(false)},
				{Name: "d"},
			}}},
			want: types.Config{Systemd: types.Systemd{Units: []types.Unit{
				{Name: "a", Contents: ptr("A")},
				{Name: "b", Enabled: ptr(true), Mask: ptr(false)},
				{Name: "c", Mask: ptr(true)},
				{Name: "e", Contents: ptr("E")},
				{Name: "d"},
			}}},
		},
		{
			name: "string lists are keyed by value",
			parent: types.Config{
				Ignition: types.Ignition{Version: "3.6.0", Proxy: types.Proxy{NoProxy: []string{"x", "y"}}},
				Passwd: types.Passwd{Users: []types.PasswdUser{{
					Name: "core", Groups: []string{"wheel"}, SSHAuthorizedKeys: []string{"k1", "k2"},
				}}},
				Storage: types.Storage{
					Raid: []types.Raid{{Name: "md0", Devices: []string{"/dev/a", "/dev/b"}}},
					Luks: []types.Luks{{Name: "l", OpenOptions: []string{"--o1"}}},
				},
			},
			child: types.Config{
				Ignition: types.Ignition{Version: "3.6.0", Proxy: types.Proxy{NoProxy: []string{"z", "x"}}},
				Passwd: types.Passwd{Users: []types.PasswdUser{{
					Name: "core", Groups: []string{"docker", "wheel"}, SSHAuthorizedKeys: []string{"k2", "k3"},
				}}},
				Storage: types.Storage{
					Raid: []types.Raid{{Name: "md0", Devices: []string{"/dev/c", "/dev/a"}}},
					Luks: []types.Luks{{Name: "l", OpenOptions: []string{"--o1", "--o2"}}},
				},
			},
			want: types.Config{
				Ignition: types.Ignition{Version: "3.6.0", Proxy: types.Proxy{NoProxy: []string{"x", "y", "z"}}},
				Passwd: types.Passwd{Users: []types.PasswdUser{{
					Name: "core", Groups: []string{"wheel", "docker"}, SSHAuthorizedKeys: []string{"k1", "k2", "k3"},
				}}},
				Storage: types.Storage{
					Raid: []types.Raid{{Name: "md0", Devices: []string{"/dev/a", "/dev/b", "/dev/c"}}},
					Luks: []types.Luks{{Name: "l", OpenOptions: []string{"--o1", "--o2"}}},
				},
			},
		},
		{
			name: "users and groups merge by name",
			parent: types.Config{Passwd: types.Passwd{
				Users:  []types.PasswdUser{{Name: "core", Shell: ptr("/bin/sh"), UID: ptr(1000)}, {Name: "old"}},
				Groups: []types.PasswdGroup{{Name: "g", Gid: ptr(5)}},
			}},
			child: types.Config{Passwd: types.Passwd{
				Users:  []types.PasswdUser{{Name: "new"}, {Name: "core", Shell: ptr("/bin/bash"), System: ptr(false)}},
				Groups: []types.PasswdGroup{{Name: "g", PasswordHash: ptr("$6$")}},
			}},
			want: types.Config{Passwd: types.Passwd{
				Users: []types.PasswdUser{
					{Name: "core", Shell: ptr("/bin/bash"), UID: ptr(1000), System: ptr(false)},
					{Name: "old"},
					{Name: "new"},
				},
				Groups: []types.PasswdGroup{{Name: "g", Gid: ptr(5), PasswordHash: ptr("$6$")}},
			}},
		},
		{
			name: "resources in ignition.config.merge and CAs are keyed by source, a missing source included",
			parent: types.Config{Ignition: types.Ignition{
				Version: "3.6.0",
				Config: types.IgnitionConfig{Merge: []types.Resource{
					{Source: ptr("https://a"), Verification: types.Verification{Hash: ptr("sha512-00")}},
					{Compression: ptr("gzip")},
				}},
				Security: types.Security{TLS: types.TLS{CertificateAuthorities: []types.Resource{
					{Source: ptr("https://ca1")}, {Source: ptr("https://ca2")},
				}}},
			}},
			child: types.Config{Ignition: types.Ignition{
				Version: "3.6.0",
				Config: types.IgnitionConfig{Merge: []types.Resource{
					{Verification: types.Verification{Hash: ptr("sha512-11")}},
					{Source: ptr("https://b")},
					{Source: ptr("https://a"), Compression: ptr("gzip")},
				}},
				Security: types.Security{TLS: types.TLS{CertificateAuthorities: []types.Resource{
					{Source: ptr("https://ca2"), Compression: ptr("gzip")},
				}}},
			}},
			want: types.Config{Ignition: types.Ignition{
				Version: "3.6.0",
				Config: types.IgnitionConfig{Merge: []types.Resource{
					{Source: ptr("https://a"), Compression: ptr("gzip"), Verification: types.Verification{Hash: ptr("sha512-00")}},
					{Compression: ptr("gzip"), Verification: types.Verification{Hash: ptr("sha512-11")}},
					{Source: ptr("https://b")},
				}},
				Security: types.Security{TLS: types.TLS{CertificateAuthorities: []types.Resource{
					{Source: ptr("https://ca1")}, {Source: ptr("https://ca2"), Compression: ptr("gzip")},
				}}},
			}},
		},
		{
			name: "tang servers merge by url",
			parent: types.Config{Storage: types.Storage{Luks: []types.Luks{{Name: "l", Clevis: types.Clevis{Tang: []types.Tang{
				{URL: "http://t1", Thumbprint: ptr("tp1")}, {URL: "http://t2"},
			}}}}}},
			child: types.Config{Storage: types.Storage{Luks: []types.Luks{{Name: "l", Clevis: types.Clevis{Tang: []types.Tang{
				{URL: "http://t3"}, {URL: "http://t1", Advertisement: ptr("{}")},
			}}}}}},
			want: types.Config{Storage: types.Storage{Luks: []types.Luks{{Name: "l", Clevis: types.Clevis{Tang: []types.Tang{
				{URL: "http://t1", Thumbprint: ptr("tp1"), Advertisement: ptr("{}")}, {URL: "http://t2"}, {URL: "http://t3"},
			}}}}}},
		},

		// Shared namespaces.
		{
			name: "child file replaces parent link and directory at its path",
			parent: types.Config{Storage: types.Storage{
				Links:       []types.Link{{Node: types.Node{Path: "/a"}, Target: ptr("/t")}, {Node: types.Node{Path: "/b"}, Target: ptr("/t")}},
				Directories: []types.Directory{{Node: types.Node{Path: "/c"}, Mode: ptr(0o755)}, {Node: types.Node{Path: "/d"}}},
				Files:       []types.File{{Node: types.Node{Path: "/e"}, Mode: ptr(0o600)}},
			}},
			child: types.Config{Storage: types.Storage{Files: []types.File{
				{Node: types.Node{Path: "/a"}, Mode: ptr(0o644)},
				{Node: types.Node{Path: "/c"}},
				{Node: types.Node{Path: "/e", Overwrite: ptr(true)}},
			}}},
			want: types.Config{Storage: types.Storage{
				Directories: []types.Directory{{Node: types.Node{Path: "/d"}}},
				Files: []types.File{
					{Node: types.Node{Path: "/e", Overwrite: ptr(true)}, Mode: ptr(0o600)},
					{Node: types.Node{Path: "/a"}, Mode: ptr(0o644)},
					{Node: types.Node{Path: "/c"}},
				},
				Links: []types.Link{{Node: types.Node{Path: "/b"}, Target: ptr("/t")}},
			}},
		},
		{
			name: "child link replaces parent file, child directory replaces parent link",
			parent: types.Config{Storage: types.Storage{
				Files: []types.File{{Node: types.Node{Path: "/x"}, Mode: ptr(0o600), Contents: types.Resource{Source: ptr("data:,x")}}},
				Links: []types.Link{{Node: types.Node{Path: "/y"}, Target: ptr("/t")}},
			}},
			child: types.Config{Storage: types.Storage{
				Links:       []types.Link{{Node: types.Node{Path: "/x"}, Target: ptr("/z")}},
				Directories: []types.Directory{{Node: types.Node{Path: "/y"}}},
			}},
			want: types.Config{Storage: types.Storage{
				// Files loses its only entry and becomes nil.
				Links:       []types.Link{{Node: types.Node{Path: "/x"}, Target: ptr("/z")}},
				Directories: []types.Directory{{Node: types.Node{Path: "/y"}}},
			}},
		},
		{
			name: "lists without a shared tag are separate namespaces",
			parent: types.Config{Storage: types.Storage{
				Filesystems: []types.Filesystem{{Device: "/dev/a", Format: ptr("xfs")}},
			}},
			child: types.Config{Storage: types.Storage{
				Disks: []types.Disk{{Device: "/dev/a"}},
			}},
			want: types.Config{Storage: types.Storage{
				Disks:       []types.Disk{{Device: "/dev/a"}},
				Filesystems: []types.Filesystem{{Device: "/dev/a", Format: ptr("xfs")}},
			}},
		},
		{
			name: "shouldNotExist removes shouldExist and vice versa",
			parent: types.Config{KernelArguments: types.KernelArguments{
				ShouldExist: []string{"a", "b"}, ShouldNotExist: []string{"c"},
			}},
			child: types.Config{KernelArguments: types.KernelArguments{
				ShouldExist: []string{"c", "d"}, ShouldNotExist: []string{"a"},
			}},
			want: types.Config{KernelArguments: types.KernelArguments{
				ShouldExist: []string{"b", "c", "d"}, ShouldNotExist: []string{"a"},
			}},
		},

		// Disks and partitions.
		{
			name: "partitions are keyed by number, else by label, else by nothing",
			parent: types.Config{Storage: types.Storage{Disks: []types.Disk{
				{Device: "/dev/sda", Partitions: []types.Partition{
					{Number: 1, Label: ptr("root"), SizeMiB: ptr(10)},
					{Label: ptr("data"), SizeMiB: ptr(5)},
					{Number: 3},
				}},
				{Device: "/dev/sdb", Partitions: []types.Partition{{SizeMiB: ptr(1)}}},
			}}},
			child: types.Config{Storage: types.Storage{Disks: []types.Disk{
				{Device: "/dev/sda", Partitions: []types.Partition{
					{Label: ptr("root"), SizeMiB: ptr(20)},
					{Label: ptr("data"), SizeMiB: ptr(50)},
					{Number: 3, Label: ptr("x")},
				}},
				{Device: "/dev/sdb", Partitions: []types.Partition{{StartMiB: ptr(2)}}},
			}}},
			want: types.Config{Storage: types.Storage{Disks: []types.Disk{
				{Device: "/dev/sda", Partitions: []types.Partition{
					{Number: 1, Label: ptr("root"), SizeMiB: ptr(10)},
					{Label: ptr("data"), SizeMiB: ptr(50)},
					{Number: 3, Label: ptr("x")},
					{Label: ptr("root"), SizeMiB: ptr(20)},
				}},
				{Device: "/dev/sdb", Partitions: []types.Partition{{SizeMiB: ptr(1), StartMiB: ptr(2)}}},
			}}},
		},
		{
			name: "disks merge by device with their partitions merged inside",
			parent: types.Config{Storage: types.Storage{Disks: []types.Disk{
				{Device: "/dev/sda", WipeTable: ptr(true), Partitions: []types.Partition{
					{Number: 1, SizeMiB: ptr(10)}, {Number: 2, TypeGUID: ptr("t")},
				}},
				{Device: "/dev/sdb"},
			}}},
			child: types.Config{Storage: types.Storage{Disks: []types.Disk{
				{Device: "/dev/sdc"},
				{Device: "/dev/sda", Partitions: []types.Partition{
					{Number: 4}, {Number: 2, SizeMiB: ptr(3)},
				}},
			}}},
			want: types.Config{Storage: types.Storage{Disks: []types.Disk{
				{Device: "/dev/sda", WipeTable: ptr(true), Partitions: []types.Partition{
					{Number: 1, SizeMiB: ptr(10)}, {Number: 2, TypeGUID: ptr("t"), SizeMiB: ptr(3)}, {Number: 4},
				}},
				{Device: "/dev/sdb"},
				{Device: "/dev/sdc"},
			}}},
		},

		// systemd.
		{
			name: "units and their dropins merge by name",
			parent: types.Config{Systemd: types.Systemd{Units: []types.Unit{
				{Name: "u.service", Enabled: ptr(true), Dropins: []types.Dropin{
					{Name: "a.conf", Contents: ptr("1")}, {Name: "b.conf", Contents: ptr("2")},
				}},
				{Name: "v.service"},
			}}},
			child: types.Config{Systemd: types.Systemd{Units: []types.Unit{
				{Name: "w.service", Dropins: []types.Dropin{{Name: "a.conf", Contents: ptr("w")}}},
				{Name: "u.service", Contents: ptr("[Service]"), Dropins: []types.Dropin{
					{Name: "c.conf", Contents: ptr("4")}, {Name: "b.conf", Contents: ptr("3")},
				}},
			}}},
			want: types.Config{Systemd: types.Systemd{Units: []types.Unit{
				{Name: "u.service", Enabled: ptr(true), Contents: ptr("[Service]"), Dropins: []types.Dropin{
					{Name: "a.conf", Contents: ptr("1")}, {Name: "b.conf", Contents: ptr("3")}, {Name: "c.conf", Contents: ptr("4")},
				}},
				{Name: "v.service"},
				{Name: "w.service", Dropins: []types.Dropin{{Name: "a.conf", Contents: ptr("w")}}},
			}}},
		},

		// HTTP headers.
		{
			name: "valueless child header removes the parent's; one without parent is kept",
			parent: types.Config{Ignition: types.Ignition{Version: "3.6.0", Config: types.IgnitionConfig{Replace: types.Resource{
				Source: ptr("https://s"),
				HTTPHeaders: []types.HTTPHeader{
					{Name: "A", Value: ptr("1")}, {Name: "B", Value: ptr("2")}, {Name: "C", Value: ptr("3")},
				},
			}}}},
			child: types.Config{Ignition: types.Ignition{Version: "3.6.0", Config: types.IgnitionConfig{Replace: types.Resource{
				HTTPHeaders: []types.HTTPHeader{{Name: "B"}, {Name: "C", Value: ptr("4")}, {Name: "D"}},
			}}}},
			want: types.Config{Ignition: types.Ignition{Version: "3.6.0", Config: types.IgnitionConfig{Replace: types.Resource{
				Source:      ptr("https://s"),
				HTTPHeaders: []types.HTTPHeader{{Name: "A", Value: ptr("1")}, {Name: "C", Value: ptr("4")}, {Name: "D"}},
			}}}},
		},
		{
			name: "valueless child header without a parent list is kept; removing the last header leaves nil",
			parent: types.Config{Storage: types.Storage{Files: []types.File{
				{Node: types.Node{Path: "/f"}, Contents: types.Resource{
					Source: ptr("https://f"), HTTPHeaders: []types.HTTPHeader{{Name: "X", Value: ptr("1")}},
				}},
				{Node: types.Node{Path: "/g"}, Contents: types.Resource{Source: ptr("https://g")}},
			}}},
			child: types.Config{Storage: types.Storage{Files: []types.File{
				{Node: types.Node{Path: "/f"}, Contents: types.Resource{HTTPHeaders: []types.HTTPHeader{{Name: "X"}}}},
				{Node: types.Node{Path: "/g"}, Contents: types.Resource{HTTPHeaders: []types.HTTPHeader{{Name: "Y"}}}},
			}}},
			want: types.Config{Storage: types.Storage{Files: []types.File{
				{Node: types.Node{Path: "/f"}, Contents: types.Resource{Source: ptr("https://f")}},
				{Node: types.Node{Path: "/g"}, Contents: types.Resource{
					Source: ptr("https://g"), HTTPHeaders: []types.HTTPHeader{{Name: "Y"}},
				}},
			}}},
		},
		{
			name: "the child's last header of a name decides between removal and merge",
			parent: types.Config{Ignition: types.Ignition{Version: "3.6.0", Config: types.IgnitionConfig{Merge: []types.Resource{
				{Source: ptr("https://1"), HTTPHeaders: []types.HTTPHeader{{Name: "B", Value: ptr("2")}}},
				{Source: ptr("https://2"), HTTPHeaders: []types.HTTPHeader{{Name: "B", Value: ptr("2")}}},
			}}}},
			child: types.Config{Ignition: types.Ignition{Version: "3.6.0", Config: types.IgnitionConfig{Merge: []types.Resource{
				{Source: ptr("https://1"), HTTPHeaders: []types.HTTPHeader{{Name: "B"}, {Name: "B", Value: ptr("5")}}},
				{Source: ptr("https://2"), HTTPHeaders: []types.HTTPHeader{{Name: "B", Value: ptr("5")}, {Name: "B"}}},
			}}}},
			want: types.Config{Ignition: types.Ignition{Version: "3.6.0", Config: types.IgnitionConfig{Merge: []types.Resource{
				{Source: ptr("https://1"), HTTPHeaders: []types.HTTPHeader{{Name: "B", Value: ptr("5")}}},
				{Source: ptr("https://2")},
			}}}},
		},

		// Duplicate keys.
		{
			name: "child duplicates: the last is merged, earlier ones dropped; unmatched ones all appended",
			parent: types.Config{Passwd: types.Passwd{Users: []types.PasswdUser{
				{Name: "alice", Shell: ptr("/bin/sh")},
			}}},
			child: types.Config{Passwd: types.Passwd{Users: []types.PasswdUser{
				{Name: "alice", UID: ptr(1), HomeDir: ptr("/h")},
				{Name: "bob", UID: ptr(1)},
				{Name: "alice", UID: ptr(2), Gecos: ptr("A")},
				{Name: "bob", UID: ptr(2)},
			}}},
			want: types.Config{Passwd: types.Passwd{Users: []types.PasswdUser{
				{Name: "alice", Shell: ptr("/bin/sh"), UID: ptr(2), Gecos: ptr("A")},
				{Name: "bob", UID: ptr(1)},
				{Name: "bob", UID: ptr(2)},
			}}},
		},
		{
			name: "parent duplicates are each merged with the child's entry",
			parent: types.Config{Passwd: types.Passwd{Groups: []types.PasswdGroup{
				{Name: "g", Gid: ptr(1)}, {Name: "h"}, {Name: "g", Gid: ptr(2)},
			}}},
			child: types.Config{Passwd: types.Passwd{Groups: []types.PasswdGroup{
				{Name: "g", System: ptr(true)},
			}}},
			want: types.Config{Passwd: types.Passwd{Groups: []types.PasswdGroup{
				{Name: "g", Gid: ptr(1), System: ptr(true)}, {Name: "h"}, {Name: "g", Gid: ptr(2), System: ptr(true)},
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkEqual(t, Merge(tt.parent, tt.child), tt.want)
		})
	}
}
