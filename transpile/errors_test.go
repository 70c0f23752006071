package transpile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestErrors checks that each problem is reported with the right severity,
// YAML path, line and column, and a message that says what is wrong.
func TestErrors(t *testing.T) {
	const head = "variant: fcos\nversion: 1.5.0\n"
	const exp = "variant: fcos\nversion: 1.8.0-experimental\n"
	const ocp = "variant: openshift\nversion: 4.14.0\nmetadata:\n  name: x\n  labels:\n    machineconfiguration.openshift.io/role: worker\n"
	tests := []struct {
		name      string
		src       string
		kind      Kind
		path      string
		line, col int
		msg       string
	}{
		{"unknown top-level key", head + "storagee: {}\n", Error, "$.storagee", 3, 1, "unknown key storagee"},
		{"unknown nested key", head + "storage:\n  files:\n    - path: /a\n      mod: 0644\n", Error,
			"$.storage.files.0.mod", 6, 7, "unknown key mod"},
		{"camelCase key", head + "storage:\n  disks:\n    - device: /dev/vdb\n      wipeTable: true\n", Error,
			"$.storage.disks.0.wipeTable", 6, 7, "unknown key wipeTable"},
		{"key of a later version", "variant: fcos\nversion: 1.3.0\nkernel_arguments:\n  should_exist: [quiet]\n", Error,
			"$.kernel_arguments", 3, 1, "needs fcos 1.4.0 or later"},
		{"sugar of a later version", "variant: fcos\nversion: 1.0.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        local: a\n", Error,
			"$.storage.files.0.contents.local", 7, 9, "needs fcos 1.1.0 or later"},
		{"ignition.version is not Butane", head + "ignition:\n  version: 3.4.0\n", Error, "$.ignition.version", 4, 3, "unknown key version"},
		{"duplicate key", head + "storage:\n  files: []\n  files: []\n", Error, "$.storage.files", 5, 3, "duplicate key files"},
		{"tab indentation", head + "storage:\n\tfiles: []\n", Error, "", 4, 1, "tab"},
		{"Ignition JSON", `{"ignition": {"version": "3.4.0"}}`, Error, "", 1, 1, "already an Ignition config"},
		{"other JSON", `{"storage": {}}`, Error, "", 1, 1, "looks like JSON"},
		{"cloud-config", "#cloud-config\nusers: []\n", Error, "", 0, 0, "cloud-config"},
		{"unknown variant", "variant: fedora\nversion: 1.0.0\n", Error, "$.variant", 1, 10, "supported variants are fcos, fiot, flatcar, openshift, r4e"},
		{"unknown version", "variant: fcos\nversion: 1.9.0\n", Error, "$.version", 2, 10,
			"supported versions are 1.0.0, 1.1.0, 1.2.0, 1.3.0, 1.4.0, 1.5.0, 1.6.0, 1.7.0, 1.8.0-experimental"},
		{"no version", "variant: fcos\n", Error, "", 1, 1, "needs variant and version"},
		{"empty document", "---", Error, "", 0, 0, "the config is empty"},
		{"not a mapping", "- a\n- b\n", Error, "", 1, 1, "is a mapping"},
		{"two documents", head + "---\n" + head, Error, "", 3, 1, "more than one YAML document"},
		{"wrong type", head + "storage:\n  files:\n    - path: /a\n      mode: rw\n", Error,
			"$.storage.files.0.mode", 6, 13, `expected an integer, found a string "rw"`},
		{"list expected", head + "storage:\n  files: {path: /a}\n", Error, "$.storage.files", 4, 10, "expected a list"},
		{"inline and source", head + "storage:\n  files:\n    - path: /a\n      contents:\n        source: http://x/y\n        inline: z\n", Error,
			"$.storage.files.0.contents.inline", 8, 17, "mutually exclusive"},
		{"contents and contents_local", head + "systemd:\n  units:\n    - name: a.service\n      contents: x\n      contents_local: motd\n", Error,
			"$.systemd.units.0.contents_local", 7, 23, "mutually exclusive"},
		{"local escapes the files dir", head + "storage:\n  files:\n    - path: /a\n      contents:\n        local: ../golden/fcos-1.0.0.bu\n", Error,
			"$.storage.files.0.contents.local", 7, 16, "stay inside the files directory"},
		{"local missing", head + "storage:\n  files:\n    - path: /a\n      contents:\n        local: nope\n", Error,
			"$.storage.files.0.contents.local", 7, 16, `local file "nope" not found`},
		{"lint: mirror without layout", head + "boot_device:\n  mirror:\n    devices: [/dev/vda, /dev/vdb]\n", Warning,
			"$.boot_device.mirror", 4, 3, "mirror without layout uses the x86_64 partition layout"},
		{"boot_device of a later version", "variant: fcos\nversion: 1.2.0\nboot_device:\n  luks: {tpm2: true}\n", Error,
			"$.boot_device", 3, 1, "unknown key boot_device (boot_device needs fcos 1.3.0 or later)"},
		{"boot_device empty", head + "boot_device:\n  layout: x86_64\n", Warning, "$.boot_device", 4, 3, "neither luks nor mirror, so it does nothing"},
		{"eckd without a device", "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: s390x-eckd\n", Error, "$.boot_device", 4, 3, "layout s390x-eckd needs boot_device.luks.device"},
		{"mirror of one device", head + "boot_device:\n  mirror:\n    devices: [/dev/vda]\n", Error,
			"$.boot_device.mirror", 4, 3, "at least two devices"},
		{"luks without a pin", head + "boot_device:\n  luks:\n    discard: true\n", Warning,
			"$.boot_device.luks", 4, 3, "the root filesystem will NOT be encrypted"},
		{"luks without a pin, 1.7.0 with device", "variant: fcos\nversion: 1.7.0\nboot_device:\n  layout: s390x-eckd\n  luks:\n    device: /dev/dasda\n", Error,
			"$.boot_device.luks", 5, 3, "needs tang, tpm2 or cex when device is set"},
		{"mirror without layout, 1.7.0", "variant: fcos\nversion: 1.7.0\nboot_device:\n  mirror: {devices: [/dev/vda, /dev/vdb]}\n", Error,
			"$.boot_device.mirror", 4, 3, "boot_device.mirror needs boot_device.layout"},
		{"mirror without devices", head + "boot_device:\n  layout: x86_64\n  mirror: {}\n", Warning,
			"$.boot_device.mirror", 5, 3, "has no devices, so the boot disk is not mirrored"},
		{"s390x layout before 1.6", head + "boot_device:\n  layout: s390x-virt\n  luks: {tpm2: true}\n", Error,
			"$.boot_device.layout", 4, 11, `unsupported layout "s390x-virt"; fcos 1.5.0 supports aarch64, ppc64le, x86_64`},
		{"unknown layout", "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: riscv64\n  luks: {tpm2: true}\n", Error,
			"$.boot_device.layout", 4, 11, "supports aarch64, ppc64le, s390x-eckd, s390x-virt, s390x-zfcp, x86_64"},
		{"discard before 1.5", "variant: fcos\nversion: 1.4.0\nboot_device:\n  luks:\n    tpm2: true\n    discard: true\n", Error,
			"$.boot_device.luks.discard", 6, 5, "unknown key discard (discard needs fcos 1.5.0 or later)"},
		{"luks device before 1.6", head + "boot_device:\n  luks:\n    tpm2: true\n    device: /dev/sda\n", Error,
			"$.boot_device.luks.device", 6, 5, "unknown key device (device needs fcos 1.6.0 or later)"},
		{"unknown boot_device key", head + "boot_device:\n  mirrors: {}\n", Error, "$.boot_device.mirrors", 4, 3, "unknown key mirrors"},
		{"duplicate boot_device key", head + "boot_device:\n  luks: {tpm2: true}\n  luks: {tpm2: true}\n", Error,
			"$.boot_device.luks", 5, 3, "duplicate key luks"},
		{"luks device on x86_64", "variant: fcos\nversion: 1.6.0\nboot_device:\n  luks:\n    tpm2: true\n    device: /dev/sda\n", Warning,
			"$.boot_device.luks.device", 6, 13, "ignored: only the s390x-eckd and s390x-zfcp layouts use it"},
		{"eckd without device", "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: s390x-eckd\n  luks:\n    tpm2: true\n", Error,
			"$.boot_device.luks", 5, 3, "layout s390x-eckd needs boot_device.luks.device"},
		{"zfcp device not SCSI", "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: s390x-zfcp\n  luks:\n    tpm2: true\n    device: /dev/dasda\n", Error,
			"$.boot_device.luks.device", 7, 13, "layout s390x-zfcp needs a whole disk matching ^/dev/sd[a-z]$, found /dev/dasda"},
		{"eckd device is a partition", "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: s390x-eckd\n  luks:\n    tpm2: true\n    device: /dev/dasda1\n", Error,
			"$.boot_device.luks.device", 7, 13, "needs a whole disk matching ^/dev/dasd[a-z]$"},
		{"mirror on eckd", "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: s390x-eckd\n  luks: {tpm2: true, device: /dev/dasda}\n  mirror: {devices: [/dev/dasda, /dev/dasdb]}\n", Error,
			"$.boot_device.mirror", 6, 3, "not supported on the s390x layouts (s390x-eckd)"},
		{"mirror on s390x-virt", "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: s390x-virt\n  mirror: {devices: [/dev/vda, /dev/vdb]}\n", Error,
			"$.boot_device.mirror", 5, 3, "not supported on the s390x layouts (s390x-virt)"},
		{"cex and tpm2", "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: s390x-virt\n  luks:\n    tpm2: true\n    cex: {enabled: true}\n", Error,
			"$.boot_device.luks", 5, 3, "cex and tang/tpm2 are mutually exclusive"},
		{"cex on x86_64", "variant: fcos\nversion: 1.6.0\nboot_device:\n  luks:\n    cex: {enabled: true}\n", Error,
			"$.boot_device.luks.cex", 4, 3, "cex needs an s390x layout"},
		{"cex on aarch64", "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: aarch64\n  luks:\n    cex: {enabled: true}\n", Error,
			"$.boot_device.layout", 4, 11, "cex needs an s390x layout, found aarch64"},
		{"tang advertisement before 1.5", "variant: fcos\nversion: 1.4.0\nboot_device:\n  luks:\n    tang:\n      - url: http://t\n        thumbprint: x\n        advertisement: '{}'\n", Error,
			"$.boot_device.luks.tang.0.advertisement", 8, 9, "unknown key advertisement"},
		// Found by the config library on the generated LUKS volume.
		{"Ignition: tang url", head + "boot_device:\n  luks:\n    tang:\n      - url: \"::\"\n        thumbprint: x\n", Error,
			"$.boot_device.luks.tang.0.url", 6, 14, "url"},
		// A user entry moved behind the generated ones is still placed.
		{"Ignition: user filesystem after generated ones", head + "boot_device:\n  mirror:\n    devices: [/dev/vda, /dev/vdb]\nstorage:\n  filesystems:\n    - device: /dev/vdc\n      format: ext4\n      path: data\n", Error,
			"$.storage.filesystems.0.path", 10, 13, "path not absolute"},
		{"Ignition: user partition merged into a generated disk", head + "boot_device:\n  mirror:\n    devices: [/dev/vda, /dev/vdb]\nstorage:\n  disks:\n    - device: /dev/vdb\n      partitions:\n        - label: var-2\n          type_guid: nope\n", Error,
			"$.storage.disks.0.partitions.0.type_guid", 11, 22, "doesn't match the form"},
		{"Ignition: user file behind the generated grub file", head + "grub:\n  users:\n    - {name: root, password_hash: grub.pbkdf2.x}\nstorage:\n  files:\n    - path: /etc/a\n    - path: etc/b\n", Error,
			"$.storage.files.1.path", 9, 13, "path not absolute"},
		{"grub of a later version", "variant: fcos\nversion: 1.4.0\ngrub:\n  users: []\n", Error,
			"$.grub", 3, 1, "unknown key grub (grub needs fcos 1.5.0 or later)"},
		{"grub user without hash", head + "grub:\n  users:\n    - name: root\n", Error,
			"$.grub.users.0.password_hash", 5, 7, "needs a password_hash"},
		{"grub hash not PBKDF2", head + "grub:\n  users:\n    - name: root\n      password_hash: $6$abc\n", Error,
			"$.grub.users.0.password_hash", 5, 7, "must be a grub.pbkdf2"},
		{"grub duplicate user", head + "grub:\n  users:\n    - {name: a, password_hash: grub.pbkdf2.x}\n    - {name: a, password_hash: grub.pbkdf2.y}\n", Error,
			"$.grub.users.1.name", 6, 7, "duplicate GRUB user a"},
		{"grub unknown key", head + "grub:\n  users:\n    - {name: a, password: x}\n", Error,
			"$.grub.users.0.password", 5, 17, "unknown key password"},
		{"flatcar 1.0 has no clevis", "variant: flatcar\nversion: 1.0.0\nstorage:\n  luks:\n    - name: a\n      device: /dev/sdb\n      clevis: {tpm2: true}\n", Error,
			"$.storage.luks.0.clevis", 7, 7, "unknown key clevis"},
		{"flatcar has no cex", "variant: flatcar\nversion: 1.2.0-experimental\nstorage:\n  luks:\n    - name: a\n      device: /dev/sdb\n      cex: {enabled: true}\n", Error,
			"$.storage.luks.0.cex", 7, 7, "unknown key cex"},
		{"with_mount_unit without path", head + "storage:\n  filesystems:\n    - device: /dev/vdb\n      format: ext4\n      with_mount_unit: true\n", Error,
			"$.storage.filesystems.0.with_mount_unit", 7, 24, "needs path"},
		{"with_mount_unit on swap before 1.4", "variant: fcos\nversion: 1.3.0\nstorage:\n  filesystems:\n    - device: /dev/vdb\n      format: swap\n      with_mount_unit: true\n", Error,
			"$.storage.filesystems.0.with_mount_unit", 7, 24, "swap area needs a newer fcos"},
		{"tree file with contents", head + "storage:\n  trees: [{local: tree}]\n  files:\n    - path: /usr/local/bin/tool\n      contents: {inline: x}\n", Error,
			"$.storage.files.0", 6, 7, "may not set contents"},
		{"tree not a directory", head + "storage:\n  trees: [{local: motd}]\n", Error, "$.storage.trees.0.local", 4, 11, "no such directory"},
		// Found by the config library on the output, mapped back to the YAML.
		{"Ignition: relative path", head + "storage:\n  files:\n    - path: etc/motd\n", Error,
			"$.storage.files.0.path", 5, 13, "path not absolute"},
		{"Ignition: duplicate path", head + "storage:\n  files:\n    - path: /a\n  directories:\n    - path: /a\n", Error,
			"$.storage.files.0", 5, 7, "duplicate entry"},
		{"Ignition: bad unit name", head + "systemd:\n  units:\n    - name: foo\n", Error,
			"$.systemd.units.0.name", 5, 13, "invalid systemd unit extension"},
		{"Ignition: hash of inline contents", head + "storage:\n  files:\n    - path: /a\n      contents:\n        inline: x\n        verification: {hash: md5-00}\n", Error,
			"$.storage.files.0.contents.verification.hash", 8, 30, "unrecognized hash function"},
		{"Ignition warning: enabled without install", head + "systemd:\n  units:\n    - name: a.service\n      enabled: true\n      contents: \"[Service]\\n\"\n", Warning,
			"$.systemd.units.0.contents", 7, 17, "no install section"},
		{"lint: reserved label without number", head + "storage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - label: root\n          size_mib: 8192\n          resize: true\n", Warning,
			"$.storage.disks.0.partitions.0.label", 7, 18, "has no number; on a kept table the image gives it number 4"},
		{"lint: reserved label, wiped table", head + "storage:\n  disks:\n    - device: /dev/vda\n      wipe_table: true\n      partitions:\n        - label: root\n", Warning,
			"", 0, 0, "!image gives it"},
		{"lint: reuse by label", "variant: fcos\nversion: 1.6.0\nstorage:\n  disks:\n    - device: /dev/vdb\n      partitions:\n        - label: data\n", Warning,
			"$.storage.disks.0.partitions.0", 7, 11, "partitions cannot be reused by label except on /dev/disk/by-id/coreos-boot-disk"},
		{"lint: reuse by label on the boot disk", "variant: fcos\nversion: 1.6.0\nstorage:\n  disks:\n    - device: /dev/disk/by-id/coreos-boot-disk\n      partitions:\n        - label: data\n", Warning,
			"", 0, 0, "!cannot be reused by label"},
		{"lint: reuse by label before 1.6.0", head + "storage:\n  disks:\n    - device: /dev/vdb\n      partitions:\n        - label: data\n", Warning,
			"", 0, 0, "!cannot be reused by label"},
		{"lint: root constrained", head + "storage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - {label: root, number: 4}\n        - {label: var, number: 5, size_mib: 1024}\n", Warning,
			"$.storage.disks.0.partitions.0.label", 7, 19, "partitions.1 after it has no start_mib"},
		{"lint: root not constrained", head + "storage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - {label: root, number: 4}\n        - {label: var, number: 5, start_mib: 20000}\n", Warning,
			"", 0, 0, "!has no start_mib"},
		{"lint: openshift numbers", "variant: openshift\nversion: 4.8.0\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\nstorage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - {label: boot, number: 4}\n", Warning,
			"$.storage.disks.0.partitions.0.number", 8, 33, "partition \"boot\" has number 4 but the image gives it number 3"},
		{"lint: reserved label, wrong number", head + "storage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - label: boot\n          number: 4\n", Warning,
			"$.storage.disks.0.partitions.0.number", 8, 19, "has number 4 but the image gives it number 3"},
		{"lint: root too small", head + "storage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - {label: root, number: 4, size_mib: 4096, resize: true}\n", Warning,
			"$.storage.disks.0.partitions.0.size_mib", 7, 46, "root partition of 4096 MiB is too small"},
		{"embedded config invalid", head + "ignition:\n  config:\n    merge:\n      - inline: '{\"ignition\": {\"version\": \"3.9.0\"}}'\n", Error,
			"$.ignition.config.merge.0.inline", 6, 17, "embedded config: "},
		{"embedded config not JSON", head + "ignition:\n  config:\n    replace:\n      local: motd\n", Error,
			"$.ignition.config.replace.local", 6, 14, "embedded config: "},
		{"merge key of a scalar", head + "storage:\n  files:\n    - <<: 3\n      path: /a\n", Error,
			"$.storage.files.0", 5, 11, "<< merges mappings, found an integer"},
		// openshift: what the Machine Config Operator cannot apply.
		{"openshift: user other than core", ocp + "passwd:\n  users:\n    - name: alice\n", Error,
			"$.passwd.users.0.name", 9, 13, `only configure the core user, found "alice"`},
		{"openshift: no directories", ocp + "storage:\n  directories:\n    - path: /a\n", Error,
			"$.storage.directories", 8, 3, "unknown key directories"},
		{"openshift: no user shell", ocp + "passwd:\n  users:\n    - name: core\n      shell: /bin/zsh\n", Error,
			"$.passwd.users.0.shell", 10, 7, "unknown key shell"},
		{"openshift: no top-level kernel_arguments", ocp + "kernel_arguments:\n  should_exist: [a]\n", Error,
			"$.kernel_arguments", 7, 1, "unknown key kernel_arguments"},
		{"openshift: remote file contents", ocp + "storage:\n  files:\n    - path: /a\n      contents:\n        source: https://example.com/a\n", Error,
			"$.storage.files.0.contents.source", 11, 17, "must be inline, local or a data: URL"},
		{"openshift: setuid", ocp + "storage:\n  files:\n    - path: /a\n      mode: 04755\n", Error,
			"$.storage.files.0.mode", 10, 13, "does not support setuid, setgid or sticky bits (mode 04755)"},
		{"openshift: btrfs", ocp + "storage:\n  filesystems:\n    - device: /dev/vdb\n      format: btrfs\n", Error,
			"$.storage.filesystems.0.format", 10, 15, "not btrfs"},
		{"openshift: tree with a symlink", ocp + "storage:\n  trees: [{local: tree}]\n", Error,
			"$.storage.trees.0", 8, 11, "has a symbolic link (/etc/tool-link)"},
		{"openshift: kernel_type", ocp + "openshift:\n  kernel_type: rt\n", Error,
			"$.openshift.kernel_type", 8, 16, `must be default or realtime, found "rt"`},
		{"openshift: unknown openshift key", ocp + "openshift:\n  kernel_args: []\n", Error,
			"$.openshift.kernel_args", 8, 3, "unknown key kernel_args"},
		{"openshift: no metadata", "variant: openshift\nversion: 4.14.0\n", Error,
			"", 1, 1, "a MachineConfig needs metadata"},
		{"openshift: no role label", "variant: openshift\nversion: 4.14.0\nmetadata:\n  name: x\n", Error,
			"$.metadata", 4, 3, "needs the metadata.labels machineconfiguration.openshift.io/role label"},
		{"openshift: bad name", "variant: openshift\nversion: 4.14.0\nmetadata:\n  name: Bad_Name\n  labels: {machineconfiguration.openshift.io/role: worker}\n", Error,
			"$.metadata.name", 4, 9, "not a Kubernetes object name"},
		{"openshift: unknown version", "variant: openshift\nversion: 4.7.0\n", Error,
			"$.version", 2, 10, "supported versions are 4.8.0, 4.9.0, 4.10.0"},
		{"openshift: grub only experimental", "variant: openshift\nversion: 4.22.0\ngrub: {users: []}\n", Error,
			"$.grub", 3, 1, "unknown key grub (grub is only in openshift 4.23.0-experimental so far)"},
		{"metadata on fcos", head + "metadata:\n  name: x\n", Error, "$.metadata", 3, 1, "unknown key metadata"},
		{"r4e: no disks", "variant: r4e\nversion: 1.1.0\nstorage:\n  disks:\n    - device: /dev/vdb\n", Error,
			"$.storage.disks", 4, 3, "unknown key disks"},
		{"r4e: no boot_device", "variant: r4e\nversion: 1.1.0\nboot_device:\n  luks: {tpm2: true}\n", Error,
			"$.boot_device", 3, 1, "unknown key boot_device"},
		{"r4e: setgid directory is Ignition's warning", "variant: r4e\nversion: 1.0.0\nstorage:\n  directories:\n    - path: /srv/x\n      mode: 02775\n", Warning,
			"$.storage.directories.0.mode", 6, 13, "setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0"},
		{"openshift 4.9: setuid is Ignition's warning", "variant: openshift\nversion: 4.9.0\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\nstorage:\n  files:\n    - path: /a\n      mode: 04755\n", Warning,
			"$.storage.files.0.mode", 7, 13, "setuid/setgid/sticky bits are not supported or functional"},
		{"r4e: contents_local before 1.1", "variant: r4e\nversion: 1.0.0\nsystemd:\n  units:\n    - name: a.service\n      contents_local: hello.service\n", Error,
			"$.systemd.units.0.contents_local", 6, 7, "unknown key contents_local (contents_local needs r4e 1.1.0 or later)"},
		{"fiot: no luks", "variant: fiot\nversion: 1.0.0\nstorage:\n  luks: []\n", Error,
			"$.storage.luks", 4, 3, "unknown key luks"},
		{"fiot: setuid file is Ignition's warning", "variant: fiot\nversion: 1.0.0\nstorage:\n  files:\n    - path: /usr/bin/x\n      mode: 04755\n", Warning,
			"$.storage.files.0.mode", 6, 13, "setuid/setgid/sticky bits are not supported or functional"},
		{"quadlets in a stable version", head + "systemd:\n  quadlets: []\n", Error,
			"$.systemd.quadlets", 4, 3, "unknown key quadlets (quadlets is only in fcos 1.8.0-experimental so far)"},
		{"quadlet type", exp + "systemd:\n  quadlets:\n    - name: web.service\n      contents: x\n", Error,
			"$.systemd.quadlets.0.name", 5, 7, `quadlet name "web.service" must be a file name ending in one of .artifact, .build, .container`},
		{"quadlet enabled", exp + "systemd:\n  quadlets:\n    - name: web.container\n      enabled: true\n", Error,
			"$.systemd.quadlets.0.enabled", 6, 7, "enables a quadlet through its [Install] section"},
		{"quadlet drop-in name", exp + "systemd:\n  quadlets:\n    - name: web.container\n      dropins:\n        - name: env\n", Error,
			"$.systemd.quadlets.0.dropins.0.name", 7, 11, `drop-in name "env" must be a file name ending in .conf`},
		{"quadlet contents twice", exp + "systemd:\n  quadlets:\n    - name: web.container\n      contents: x\n      contents_local: motd\n", Error,
			"$.systemd.quadlets.0.contents_local", 7, 23, "mutually exclusive"},
		{"tree modes before 1.7.0", "variant: fcos\nversion: 1.6.0\nstorage:\n  trees:\n    - {local: tree, file_mode: 0600}\n", Error,
			"$.storage.trees.0.file_mode", 5, 21, "unknown key file_mode (file_mode needs fcos 1.7.0 or later)"},
		{"tree modes in flatcar 1.1.0", "variant: flatcar\nversion: 1.1.0\nstorage:\n  trees:\n    - {local: tree, user: {name: core}}\n", Error,
			"$.storage.trees.0.user", 5, 21, "unknown key user (user is only in flatcar 1.2.0-experimental so far)"},
		{"tree mode in decimal", "variant: fcos\nversion: 1.7.0\nstorage:\n  trees:\n    - {local: tree, path: /opt/t, file_mode: 600}\n", Warning,
			"$.storage.trees.0.file_mode", 5, 46, "mode 600 is decimal"},
		{"tree owner of /etc", "variant: fcos\nversion: 1.7.0\nstorage:\n  trees:\n    - {local: tree, user: {name: core}}\n", Warning,
			"$.storage.trees.0", 5, 7, "sets the mode or owner of /etc, a top-level system directory"},
		{"tree owner not a mapping", "variant: fcos\nversion: 1.7.0\nstorage:\n  trees:\n    - {local: tree, path: /opt/t, group: wheel}\n", Error,
			"$.storage.trees.0.group", 5, 42, "expected a mapping"},
		{"tree dir_mode on openshift", "variant: openshift\nversion: 4.23.0-experimental\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\nstorage:\n  trees:\n    - {local: tree/usr, path: /usr, dir_mode: 0755}\n", Error,
			"$.storage.trees.0.dir_mode", 6, 7, "cannot create directories, so a tree cannot set dir_mode"},
		{"openshift fips cipher kept by user", "variant: openshift\nversion: 4.19.0\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\nopenshift: {fips: true}\nstorage:\n  luks:\n    - {name: data, device: /dev/sdb, options: [--cipher, aes-xts-plain64], clevis: {tpm2: true}}\n", Warning,
			"", 0, 0, "!cipher"},
		{"openshift cex without karg", "variant: openshift\nversion: 4.19.0\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\nopenshift:\n  kernel_arguments: [quiet]\nboot_device:\n  layout: s390x-zfcp\n  luks: {device: /dev/sdb, cex: {enabled: true}}\n", Error,
			"$.openshift.kernel_arguments", 5, 3, "uses cex, which needs rd.luks.key=/etc/luks/cex.key"},
		{"openshift cex on a storage.luks root", "variant: openshift\nversion: 4.20.0\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\nstorage:\n  luks:\n    - {name: root, device: /dev/dasda2, cex: {enabled: true}}\n", Error,
			"", 1, 1, "uses cex, which needs rd.luks.key=/etc/luks/cex.key"},
		{"mount unit outside /etc and /var", "variant: fcos\nversion: 1.6.0\nstorage:\n  filesystems:\n    - {device: /dev/vdb, format: xfs, path: /srv, with_mount_unit: true}\n", Error,
			"$.storage.filesystems.0.with_mount_unit", 5, 68, "with_mount_unit needs a path under /etc or /var, found /srv"},
		{"mount unit outside /etc and /var before 1.6.0", head + "storage:\n  filesystems:\n    - {device: /dev/vdb, format: xfs, path: /srv, with_mount_unit: true}\n", Warning,
			"", 0, 0, "!under /etc or /var"},
		{"openshift 4.9 file compression", "variant: openshift\nversion: 4.9.0\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\nstorage:\n  files:\n    - path: /etc/a\n      contents: {source: \"data:,x\", compression: gzip}\n", Error,
			"$.storage.files.0.contents.compression", 7, 37, "unknown key compression (compression needs openshift 4.10.0 or later)"},
		{"openshift 4.12 password", "variant: openshift\nversion: 4.12.0\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\npasswd:\n  users:\n    - {name: core, password_hash: x}\n", Error,
			"$.passwd.users.0.password_hash", 6, 20, "unknown key password_hash (password_hash needs openshift 4.13.0 or later)"},
		{"quadlet duplicate", exp + "systemd:\n  quadlets:\n    - {name: a.volume, contents: x}\n    - {name: a.volume, contents: y}\n", Error,
			"$.systemd.quadlets.1.name", 6, 7, "duplicate quadlet a.volume"},
		{"quadlet rootful and rootless", exp + "systemd:\n  quadlets:\n    - {name: a.volume, contents: x}\n    - {name: a.volume, contents: y, rootful: true}\n", Warning,
			"", 0, 0, "!duplicate"},
		{"quadlet without contents", exp + "systemd:\n  quadlets:\n    - name: a.volume\n", Error,
			"$.systemd.quadlets.0", 5, 7, "quadlet a.volume needs contents, contents_local or dropins"},
		{"quadlet rootful not a boolean", exp + "systemd:\n  quadlets:\n    - {name: a.volume, contents: x, rootful: sure}\n", Error,
			"$.systemd.quadlets.0.rootful", 5, 46, "expected a boolean"},
		{"quadlet drop-in rootful", exp + "systemd:\n  quadlets:\n    - name: a.volume\n      dropins:\n        - {name: a.conf, rootful: true}\n", Error,
			"$.systemd.quadlets.0.dropins.0.rootful", 7, 26, "unknown key rootful"},
		{"quadlet instance link on openshift", "variant: openshift\nversion: 4.23.0-experimental\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\nsystemd:\n  quadlets:\n    - name: web@1.container\n", Error,
			"$.systemd.quadlets.0", 6, 7, "cannot create links"},
		{"quadlet and file", exp + "storage:\n  files:\n    - path: /etc/containers/systemd/a.volume\nsystemd:\n  quadlets:\n    - {name: a.volume, rootful: true, contents: x}\n", Error,
			"$.systemd.quadlets.0", 8, 7, "both in storage.files and generated by systemd.quadlets"},
		{"lint: decimal mode", head + "storage:\n  files:\n    - path: /a\n      mode: 755\n", Warning,
			"$.storage.files.0.mode", 6, 13, "write 0755"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Translate([]byte(tt.src), Options{FilesDirs: []string{filesDir}})
			if tt.kind == Error && !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
			// A message starting with ! must not be reported.
			if absent, ok := strings.CutPrefix(tt.msg, "!"); ok {
				for _, e := range res.Report.Entries {
					if strings.Contains(e.Message, absent) {
						t.Errorf("unexpected %s %q", e.Kind, e.Message)
					}
				}
				return
			}
			for _, e := range res.Report.Entries {
				if e.Kind == tt.kind && strings.Contains(e.Message, tt.msg) {
					if e.Path != tt.path || e.Line != tt.line || e.Column != tt.col {
						t.Errorf("entry %q at %s %d:%d, want %s %d:%d", e.Message, e.Path, e.Line, e.Column, tt.path, tt.line, tt.col)
					}
					return
				}
			}
			t.Errorf("no %s containing %q in report:\n%s", tt.kind, tt.msg, raw(res.Report))
		})
	}
}

func raw(r Report) string {
	var b strings.Builder
	r.WriteRaw(&b)
	return b.String()
}

// TestUnknownKeyHints: the "needs" hint names the first stable version
// with the key in that place, and only when there is one.
func TestUnknownKeyHints(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"variant: fcos\nversion: 1.0.0\nignition:\n  version: 3.4.0\n", "unknown key version"},
		{"variant: fcos\nversion: 1.0.0\nstorage:\n  luks: []\n", "unknown key luks (luks needs fcos 1.2.0 or later)"},
		{"variant: fcos\nversion: 1.4.0\nsystemd:\n  units:\n    - name: a.service\n      contents_local: a\n", "unknown key contents_local (contents_local needs fcos 1.5.0 or later)"},
		{"variant: flatcar\nversion: 1.1.0\nstorage:\n  luks:\n    - name: a\n      clevis: {}\n", "unknown key clevis (clevis is only in flatcar 1.2.0-experimental so far)"},
		{"variant: fcos\nversion: 1.7.0\nstorage:\n  files:\n    - path: /a\n      inline: x\n", "unknown key inline"},
	} {
		res, _ := Translate([]byte(tt.src), Options{})
		if len(res.Report.Entries) != 1 || res.Report.Entries[0].Message != tt.want {
			t.Errorf("%q:\n%s\nwant %q", tt.src, raw(res.Report), tt.want)
		}
	}
}

// TestLocalSymlinkEscape: a symbolic link inside the files directory that
// points out of it is refused, not followed.
func TestLocalSymlinkEscape(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	src := "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        local: link\n"
	res, err := Translate([]byte(src), Options{FilesDirs: []string{dir}})
	if err == nil {
		t.Fatalf("a link out of the files directory was followed: %s", res.JSON)
	}
	if e := res.Report.Entries[0]; e.Line != 7 || !strings.Contains(e.Message, "escapes") {
		t.Errorf("entry %s", e.Raw())
	}
}

// TestFilesDirsOrder: several files directories are searched in order.
func TestFilesDirsOrder(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(first, "only-first"), []byte("one"), 0o644)
	os.WriteFile(filepath.Join(second, "only-first"), []byte("two"), 0o644)
	os.WriteFile(filepath.Join(second, "only-second"), []byte("two"), 0o644)
	src := "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n" +
		"    - path: /a\n      contents: {local: only-first}\n" +
		"    - path: /b\n      contents: {local: only-second}\n"
	res, err := Translate([]byte(src), Options{FilesDirs: []string{first, second}})
	if err != nil {
		t.Fatalf("%v\n%s", err, raw(res.Report))
	}
	files := res.Config.Storage.Files
	if *files[0].Contents.Source != "data:,one" || *files[1].Contents.Source != "data:,two" {
		t.Errorf("sources %s, %s", *files[0].Contents.Source, *files[1].Contents.Source)
	}
}

// TestAliasBomb: aliases that would expand exponentially are not expanded:
// the typed walk stops at the first node of the wrong type, and the keys
// that hold the anchors are unknown, so each is reported once.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /a\n      contents: {inline: &a0 [x, x]}\n")
	for i := 1; i < 40; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [*a" + itoa(i-1) + ", *a" + itoa(i-1) + "]\n")
	}
	b.WriteString("passwd:\n  users:\n    - name: core\n      ssh_authorized_keys: *a39\n")
	res, err := Translate([]byte(b.String()), Options{})
	if err == nil {
		t.Fatal("alias bomb accepted")
	}
	if n := len(res.Report.Entries); n > 50 {
		t.Errorf("%d entries: the aliases were expanded", n)
	}
	if !strings.Contains(raw(res.Report), "$.passwd.users.0.ssh_authorized_keys.0, line 45 col 12: expected a string, found a list") {
		t.Errorf("report:\n%s", raw(res.Report))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestMergeKeys: YAML merge keys work as in YAML: own keys win, then
// earlier merged mappings over later ones.
func TestMergeKeys(t *testing.T) {
	src := `variant: fcos
version: 1.5.0
x-defaults: &common {mode: 0600, overwrite: true, user: {name: core}}
x-more: &more {mode: 0644, group: {name: wheel}}
storage:
  files:
    - <<: *common
      path: /a
    - <<: [*common, *more]
      path: /b
      mode: 0400
    - <<: [*more, *common]
      path: /c
`
	res, err := Translate([]byte(src), Options{})
	// The x- keys are unknown: a Butane config has no place for anchors
	// only, so the error must be the only problem.
	if err == nil {
		t.Fatal("x- keys accepted")
	}
	for _, e := range res.Report.Entries {
		if !strings.HasPrefix(e.Message, "unknown key x-") {
			t.Errorf("unexpected %s", e.Raw())
		}
	}
	// Anchors defined inside the config itself are the usual way.
	src = `variant: fcos
version: 1.5.0
storage:
  files:
    - &a
      path: /a
      mode: 0600
      user: {name: core}
    - <<: *a
      path: /b
      mode: 0400
    - <<: [{group: {name: wheel}, mode: 0644}, *a]
      path: /c
`
	res, err = Translate([]byte(src), Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, raw(res.Report))
	}
	got, _ := json.Marshal(res.Config.Storage.Files)
	want := `[{"path":"/a","user":{"name":"core"},"mode":384},` +
		`{"path":"/b","user":{"name":"core"},"mode":256},` +
		`{"group":{"name":"wheel"},"path":"/c","user":{"name":"core"},"mode":420}]`
	if string(got) != want {
		t.Errorf("files\n%s\nwant\n%s", got, want)
	}
}

// TestLintsQuiet: what the lints must not flag.
func TestLintsQuiet(t *testing.T) {
	for name, src := range map[string]string{
		"octal mode":         "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /a\n      mode: 0644\n",
		"0o mode":            "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /a\n      mode: 0o644\n",
		"decimal on purpose": "variant: fcos\nversion: 1.5.0\nstorage:\n  directories:\n    - path: /a\n      mode: 493\n",
		"root with number 4": "variant: fcos\nversion: 1.5.0\nstorage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - {label: root, number: 4, resize: true, size_mib: 10240}\n",
		"flatcar layout":     "variant: flatcar\nversion: 1.1.0\nstorage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - {label: root, size_mib: 10240}\n",
	} {
		res, err := Translate([]byte(src), Options{})
		if err != nil || len(res.Report.Entries) != 0 {
			t.Errorf("%s: %v\n%s", name, err, raw(res.Report))
		}
	}
}

// TestFIPSCipher: openshift.fips gives every LUKS volume of the config the
// FIPS cipher in 4.8.0–4.19.0 (raw or not), and no longer from 4.20.0.
func TestFIPSCipher(t *testing.T) {
	const body = "openshift: {fips: true}\nboot_device:\n  luks: {tpm2: true}\nstorage:\n  luks:\n    - {name: data, device: /dev/sdb, clevis: {tpm2: true}}\n"
	for _, tt := range []struct {
		version string
		raw     bool
		want    bool
	}{
		{"4.8.0", false, true},
		{"4.19.0", true, true},
		{"4.20.0", false, false},
		{"4.23.0-experimental", false, false},
	} {
		src := "variant: openshift\nversion: " + tt.version +
			"\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\n" + body
		res, err := Translate([]byte(src), Options{Raw: tt.raw})
		if err != nil {
			t.Fatalf("%s: %v\n%s", tt.version, err, raw(res.Report))
		}
		if len(res.Config.Storage.Luks) != 2 {
			t.Fatalf("%s: %d LUKS volumes, want 2", tt.version, len(res.Config.Storage.Luks))
		}
		for _, l := range res.Config.Storage.Luks {
			got := strings.Join(l.Options, " ") == "--cipher aes-cbc-essiv:sha256"
			if got != tt.want {
				t.Errorf("%s: volume %s options %q, want the FIPS cipher: %v", tt.version, l.Name, l.Options, tt.want)
			}
		}
		warned := strings.Contains(raw(res.Report), "only sets the LUKS cipher in raw Ignition")
		if warned != (tt.raw && tt.want) {
			t.Errorf("%s raw=%v: raw-mode fips warning %v\n%s", tt.version, tt.raw, warned, raw(res.Report))
		}
	}
}

// TestOpenShiftCompression: openshift 4.8.0 and 4.9.0 never gzip embedded
// contents nor write a compression field; 4.10.0 does both again.
func TestOpenShiftCompression(t *testing.T) {
	big := strings.Repeat("all work and no play makes jack a dull boy\n", 200)
	for version, want := range map[string]bool{"4.9.0": false, "4.10.0": true} {
		src := "variant: openshift\nversion: " + version +
			"\nmetadata: {name: x, labels: {machineconfiguration.openshift.io/role: worker}}\nstorage:\n  files:\n    - path: /etc/big\n      contents:\n        inline: |\n" +
			"          " + strings.ReplaceAll(strings.TrimSuffix(big, "\n"), "\n", "\n          ") + "\n"
		res, err := Translate([]byte(src), Options{})
		if err != nil {
			t.Fatalf("%s: %v\n%s", version, err, raw(res.Report))
		}
		c := res.Config.Storage.Files[0].Contents.Compression
		if got := c != nil && *c == "gzip"; got != want {
			t.Errorf("%s: gzip %v, want %v", version, got, want)
		}
		if !want && c != nil {
			t.Errorf("%s: compression field %q written", version, *c)
		}
	}
}
