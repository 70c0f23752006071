package vm

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeModules writes a small modules dir shaped like a Debian kernel's.
func fakeModules(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"modules.dep": `kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/lib/crc16.ko:
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/drivers/md/dm-crypt.ko: kernel/drivers/md/dm-mod.ko
kernel/drivers/md/dm-mod.ko:
kernel/crypto/xts.ko:
kernel/crypto/ecb.ko:
kernel/fs/xfs/xfs.ko.xz:
`,
		"modules.softdep": `# Soft dependencies extracted from modules themselves.
softdep ext4 pre: crypto-crc32c
softdep jbd2 pre: crypto-crc32c
softdep xts pre: ecb
softdep dm-crypt post: nosuch-module
`,
		"modules.alias": `alias crypto-crc32c crc32c_intel
alias crypto-crc32c crc32c_generic
alias crypto-xts xts
alias fs-ext4 ext4
alias dm-crypt-* dm_crypt
`,
		"modules.builtin": "kernel/drivers/char/tpm/tpm_tis.ko\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestModulePlan(t *testing.T) {
	ix, err := parseModIndex(fakeModules(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		modules []string
		want    []string // in load order; "?" marks a soft dependency
		err     string
	}{
		{
			name:    "dependencies first, soft ones optional",
			modules: []string{"ext4"},
			want: []string{"?kernel/arch/x86/crypto/crc32c-intel.ko", "?kernel/crypto/crc32c_generic.ko",
				"kernel/lib/crc16.ko", "kernel/fs/mbcache.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/ext4/ext4.ko"},
		},
		{
			name:    "a soft dependency asked for is required",
			modules: []string{"ext4", "crc32c_generic"},
			want: []string{"?kernel/arch/x86/crypto/crc32c-intel.ko", "kernel/crypto/crc32c_generic.ko",
				"kernel/lib/crc16.ko", "kernel/fs/mbcache.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/ext4/ext4.ko"},
		},
		{
			name:    "dashes and underscores are the same; a missing post softdep is no error",
			modules: []string{"dm_crypt", "dm-mod"},
			want:    []string{"kernel/drivers/md/dm-mod.ko", "kernel/drivers/md/dm-crypt.ko"},
		},
		{name: "aliases", modules: []string{"crypto-xts", "fs-ext4", "dm-crypt-target"},
			want: []string{"?kernel/crypto/ecb.ko", "kernel/crypto/xts.ko",
				"?kernel/arch/x86/crypto/crc32c-intel.ko", "?kernel/crypto/crc32c_generic.ko",
				"kernel/lib/crc16.ko", "kernel/fs/mbcache.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/ext4/ext4.ko",
				"kernel/drivers/md/dm-mod.ko", "kernel/drivers/md/dm-crypt.ko"}},
		{name: "built-in", modules: []string{"tpm_tis"}, want: nil},
		{name: "unknown", modules: []string{"no_such_module"}, err: `kernel module "no_such_module": not in`},
		{name: "compressed", modules: []string{"xfs"}, err: "is compressed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loads, err := ix.plan(tc.modules)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range loads {
				if l.required {
					got = append(got, l.file)
				} else {
					got = append(got, "?"+l.file)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan(%q):\n got %q\nwant %q", tc.modules, got, tc.want)
			}
		})
	}

	loads, err := ix.plan([]string{"dm-crypt"})
	if err != nil {
		t.Fatal(err)
	}
	dep, alias := ix.indexFiles(loads)
	if want := "kernel/drivers/md/dm-mod.ko:\nkernel/drivers/md/dm-crypt.ko: kernel/drivers/md/dm-mod.ko\n"; string(dep) != want {
		t.Errorf("modules.dep:\n%s\nwant:\n%s", dep, want)
	}
	if want := "alias dm-crypt-* dm_crypt\n"; string(alias) != want {
		t.Errorf("modules.alias:\n%s\nwant:\n%s", alias, want)
	}
}

// TestModulePlanHostKernel checks the plan against the real kernel's
// index when there is one: md needs md-mod, the TPM driver is built in.
func TestModulePlanHostKernel(t *testing.T) {
	_, dir, err := findKernel()
	if err != nil {
		t.Skipf("no kernel: %v", err)
	}
	ix, err := loadModIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	loads, err := ix.plan([]string{"raid1", "vfat"})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, l := range loads {
		pos[modName(l.file)] = i + 1
	}
	for _, pair := range [][2]string{{"md_mod", "raid1"}, {"fat", "vfat"}} {
		if pos[pair[0]] == 0 || pos[pair[1]] == 0 || pos[pair[0]] > pos[pair[1]] {
			t.Errorf("%s must load before %s: %v", pair[0], pair[1], loads)
		}
	}
}
