package validation_test

import (
	"testing"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/config/validation"
)

// TestVersionGates checks each version-dependent rule on both sides of the
// version that changed it: the same config gives one report in the last
// version before the change and another in the version that made it.
func TestVersionGates(t *testing.T) {
	for _, tc := range []struct {
		name       string
		before     string
		since      string
		json       string
		wantBefore []entry
		wantSince  []entry
	}{
		{
			name: "sha256", before: "3.0.0", since: "3.1.0",
			json:       `{"storage":{"files":[{"path":"/f","contents":{"source":"data:,","verification":{"hash":"` + hashOf("sha256", 64) + `"}}}]}}`,
			wantBefore: []entry{E("$.storage.files.0.contents.verification.hash", msgHashFunction)},
		},
		{
			name: "merge source required", before: "3.0.0", since: "3.1.0",
			json:      `{"ignition":{"config":{"merge":[{"verification":{}}]}}}`,
			wantSince: []entry{E("$.ignition.config.merge.0", msgSourceRequired)},
		},
		{
			name: "gs scheme", before: "3.1.0", since: "3.2.0",
			json:       src("gs://bucket/object"),
			wantBefore: []entry{E("$.storage.files.0.contents.source", msgURLScheme)},
		},
		{
			name: "format none", before: "3.2.0", since: "3.3.0",
			json:       fs(`"device":"/dev/sdb","format":"none"`),
			wantBefore: []entry{E("$.storage.filesystems.0.format", msgFormat)},
		},
		{
			name: "link target required", before: "3.2.0", since: "3.3.0",
			json:      `{"storage":{"links":[{"path":"/l","target":""}]}}`,
			wantSince: []entry{E("$.storage.links.0.target", msgLinkTarget)},
		},
		{
			name: "raid level required", before: "3.2.0", since: "3.3.0",
			json:       `{"storage":{"raid":[{"name":"md","devices":["/dev/sda"]}]}}`,
			wantBefore: []entry{E("$.storage.raid.0.level", msgRaidLevel)},
			wantSince:  []entry{E("$.storage.raid.0.level", msgRaidLevelRequired)},
		},
		{
			name: "clevis pin required", before: "3.2.0", since: "3.3.0",
			json:       luks(`"clevis":{"custom":{"config":"{}"}}`),
			wantBefore: []entry{E("$.storage.luks.0.clevis.custom.pin", msgClevisPin)},
			wantSince:  []entry{E("$.storage.luks.0.clevis.custom.pin", msgClevisPinMissing)},
		},
		{
			name: "arn scheme", before: "3.3.0", since: "3.4.0",
			json:       src("arn:aws:s3:::bucket/object"),
			wantBefore: []entry{E("$.storage.files.0.contents.source", msgURLScheme)},
		},
		{
			name: "special mode bits", before: "3.5.0", since: "3.6.0",
			json:       `{"storage":{"files":[{"path":"/f","mode":3565}],"directories":[{"path":"/d","mode":1023}]}}`,
			wantBefore: []entry{W("$.storage.directories.0.mode", msgModeSpecial), W("$.storage.files.0.mode", msgModeSpecial)},
		},
		{
			name: "any clevis pin", before: "3.5.0", since: "3.6.0",
			json:       luks(`"clevis":{"custom":{"pin":"foo","config":"{}"}}`),
			wantBefore: []entry{E("$.storage.luks.0.clevis.custom.pin", msgClevisPin)},
		},
		{
			name: "virtiofs", before: "3.6.0", since: "3.7.0-experimental",
			json:       fs(`"device":"tag","format":"virtiofs","path":"/srv"`),
			wantBefore: []entry{E("$.storage.filesystems.0.device", msgPathRelative), E("$.storage.filesystems.0.format", msgFormat)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.before, tc.json, tc.wantBefore)
			check(t, tc.since, tc.json, tc.wantSince)
		})
	}
}

// TestSharedRulesInEveryVersion checks that rules without a version gate
// apply to every version, including the experimental one.
func TestSharedRulesInEveryVersion(t *testing.T) {
	body := `{"storage":{"files":[{"path":"f","contents":{"compression":"xz"}},{"path":"/f","mode":4096}],` +
		`"disks":[{"device":"/dev/sda","partitions":[{"number":1,"label":"a:b"},{"number":1}]}],` +
		`"raid":[{"name":"md","level":"raid0","spares":1}]},` +
		`"systemd":{"units":[{"name":"a","dropins":[{"name":"b"}]}]},` +
		`"passwd":{"users":[{"name":"u"},{"name":"u"}]}}`
	want := []entry{
		E("$.storage.disks.0.partitions.1", msgPartNumbers),
		E("$.storage.disks.0.partitions.0.label", msgPartLabelColon),
		E("$.storage.files.0.path", msgPathRelative),
		E("$.storage.files.0.contents.compression", msgCompression),
		E("$.storage.files.1.mode", msgMode),
		E("$.storage.raid.0.level", msgRaidSpares),
		E("$.storage.raid.0.devices", msgRaidDevices),
		E("$.systemd.units.0.name", msgUnitExt),
		E("$.systemd.units.0.dropins.0.name", msgDropinExt),
		E("$.passwd.users.1", msgDuplicate),
		E("$.storage.disks.0.partitions.1", msgDuplicate),
	}
	for _, s := range config.Versions {
		t.Run(s.String(), func(t *testing.T) { check(t, s.String(), body, want) })
	}
}

// TestZeroConfig checks that no rule fires on absent sections (the zero
// values of the types), in any version.
func TestZeroConfig(t *testing.T) {
	for _, s := range config.Versions {
		if r := validation.Validate(&types.Config{}, s); len(r.Entries) != 0 {
			t.Errorf("%s: %v", s, r)
		}
	}
}
