package validation_test

import (
	"strconv"
	"strings"
	"testing"
)

func disk(device, partitions string) string {
	return `{"storage":{"disks":[{"device":` + quote(device) + `,"partitions":` + partitions + `}]}}`
}

func TestDisks(t *testing.T) {
	d := "$.storage.disks.0"
	p := d + ".partitions"
	runCases(t, []ruleCase{
		{name: "ok", json: disk("/dev/sda", `[{"number":1,"label":"a","startMiB":0,"sizeMiB":100},{"label":"b"}]`)},
		{name: "no device", json: `{"storage":{"disks":[{"wipeTable":true}]}}`, want: []entry{E(d+".device", msgDiskDevice)}},
		// Without a device the table checks are skipped, the partitions'
		// own rules and duplicates are not.
		{name: "no device skips table", json: disk("", `[{"number":1},{"number":1},{}]`),
			want: []entry{E(d+".device", msgDiskDevice), E(p+".2", msgPartNeedID), E(p+".1", msgDuplicate)}},
		{name: "relative device", json: disk("dev/sda", `[]`), want: []entry{E(d+".device", msgPathRelative)}},
		{name: "unclean device", json: disk("/dev//sda", `[]`), want: []entry{E(d+".device", msgPathUnclean)}},
		{name: "numbers collide", json: disk("/dev/sda", `[{"number":1},{"number":2},{"number":1}]`),
			want: []entry{E(p+".2", msgPartNumbers), E(p+".2", msgDuplicate)}},
		{name: "only the first collision", json: disk("/dev/sda", `[{"number":1},{"number":2},{"number":2},{"number":1}]`),
			want: []entry{E(p+".2", msgPartNumbers), E(p+".2", msgDuplicate), E(p+".3", msgDuplicate)}},
		{name: "overlap at end", json: disk("/dev/sda", `[{"number":1,"startMiB":10,"sizeMiB":10},{"number":2,"startMiB":15,"sizeMiB":10}]`),
			want: []entry{E(p+".1", msgPartOverlap)}},
		{name: "overlap reports the other partition", json: disk("/dev/sda", `[{"number":1,"startMiB":100,"sizeMiB":10},{"number":2,"startMiB":1,"sizeMiB":5},{"number":3,"startMiB":95,"sizeMiB":10}]`),
			want: []entry{E(p+".2", msgPartOverlap)}},
		{name: "overlap enclosing", json: disk("/dev/sda", `[{"number":1,"startMiB":10,"sizeMiB":100},{"number":2,"startMiB":20,"sizeMiB":5}]`),
			want: []entry{E(p+".1", msgPartOverlap)}},
		{name: "size 0 occupies its start", json: disk("/dev/sda", `[{"number":1,"startMiB":10,"sizeMiB":0},{"number":2,"startMiB":5,"sizeMiB":10}]`),
			want: []entry{E(p+".1", msgPartOverlap)}},
		{name: "adjacent", json: disk("/dev/sda", `[{"number":1,"startMiB":10,"sizeMiB":10},{"number":2,"startMiB":20,"sizeMiB":10}]`)},
		{name: "start 0 is not placed", json: disk("/dev/sda", `[{"number":1,"startMiB":0,"sizeMiB":100},{"number":2,"startMiB":1,"sizeMiB":5}]`)},
		{name: "size unset is not placed", json: disk("/dev/sda", `[{"number":1,"startMiB":10},{"number":2,"startMiB":10,"sizeMiB":5}]`)},
		{name: "delete with unnumbered", json: disk("/dev/sda", `[{"number":1,"shouldExist":false},{"label":"root"}]`),
			want: []entry{E(p, msgPartZeroes)}},
		{name: "delete with numbered", json: disk("/dev/sda", `[{"number":1,"shouldExist":false},{"number":2,"label":"root"}]`)},
		{name: "labels twice", json: disk("/dev/sda", `[{"number":1,"label":"a"},{"number":2,"label":"a"}]`),
			want: []entry{E(p+".1", msgPartLabelTwice)}},
		{name: "empty labels twice", json: disk("/dev/sda", `[{"number":1,"label":""},{"number":2,"label":""}]`),
			want: []entry{E(p+".1", msgPartLabelTwice)}},
		{name: "distinct labels", json: disk("/dev/sda", `[{"number":1,"label":"a"},{"number":2,"label":"b"},{"number":3}]`)},
	})
}

func TestPartitions(t *testing.T) {
	p := "$.storage.disks.0.partitions.0"
	part := func(fields string) string { return disk("/dev/sda", `[{`+fields+`}]`) }
	guid := "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
	runCases(t, []ruleCase{
		{name: "delete by number", json: part(`"number":3,"shouldExist":false,"wipePartitionEntry":true,"resize":true,"typeGuid":"","guid":""`)},
		{name: "delete with label", json: part(`"number":3,"shouldExist":false,"label":"x"`), want: []entry{E(p, msgPartShouldNotWith)}},
		{name: "delete with type", json: part(`"number":3,"shouldExist":false,"typeGuid":"` + guid + `"`), want: []entry{E(p, msgPartShouldNotWith)}},
		{name: "delete with guid", json: part(`"number":3,"shouldExist":false,"guid":"` + guid + `"`), want: []entry{E(p, msgPartShouldNotWith)}},
		{name: "delete with start", json: part(`"number":3,"shouldExist":false,"startMiB":0`), want: []entry{E(p, msgPartShouldNotWith)}},
		{name: "delete with size", json: part(`"number":3,"shouldExist":false,"sizeMiB":0`), want: []entry{E(p, msgPartShouldNotWith)}},
		{name: "keep with everything", json: part(`"number":3,"shouldExist":true,"label":"x","typeGuid":"` + guid + `","guid":"` + strings.ToLower(guid) + `","startMiB":1,"sizeMiB":1`)},
		{name: "neither number nor label", json: part(`"sizeMiB":10`), want: []entry{E(p, msgPartNeedID)}},
		{name: "label only", json: part(`"label":"data"`)},
		{name: "label 36", json: part(`"number":1,"label":"` + strings.Repeat("a", 36) + `"`)},
		{name: "label 37", json: part(`"number":1,"label":"` + strings.Repeat("a", 37) + `"`), want: []entry{E(p+".label", msgPartLabelLong)}},
		// The length is checked in bytes, and before the colon.
		{name: "label 37 bytes", json: part(`"number":1,"label":"` + strings.Repeat("é", 18) + `:"`), want: []entry{E(p+".label", msgPartLabelLong)}},
		{name: "label colon", json: part(`"number":1,"label":"a:b"`), want: []entry{E(p+".label", msgPartLabelColon)}},
		{name: "bad guid", json: part(`"number":1,"guid":"0FC63DAF-8483-4772-8E79-3D69D8477DE"`), want: []entry{E(p+".guid", msgGUID)}},
		{name: "guid not hex", json: part(`"number":1,"guid":"0FC63DAF-8483-4772-8E79-3D69D8477DEG"`), want: []entry{E(p+".guid", msgGUID)}},
		{name: "bad type guid", json: part(`"number":1,"typeGuid":"linux"`), want: []entry{E(p+".typeGuid", msgGUID)}},
		{name: "all partition rules in order", json: part(`"shouldExist":false,"label":"` + strings.Repeat(":", 40) + `","guid":"x","typeGuid":"y"`),
			want: []entry{E("$.storage.disks.0.partitions", msgPartZeroes), E(p, msgPartShouldNotWith), E(p+".label", msgPartLabelLong), E(p+".guid", msgGUID), E(p+".typeGuid", msgGUID)}},
	})
}

func TestRaid(t *testing.T) {
	r := "$.storage.raid.0"
	raid := func(fields string) string { return `{"storage":{"raid":[{"name":"md0",` + fields + `}]}}` }
	runCases(t, []ruleCase{
		{name: "ok", json: raid(`"level":"raid1","devices":["/dev/sda","/dev/sdb"],"spares":1,"options":["--x","--x"]`)},
		{name: "level names", json: `{"storage":{"raid":[` + strings.Join(func() []string {
			var out []string
			for i, l := range []string{"linear", "raid0", "0", "stripe", "raid1", "1", "mirror", "raid4", "4", "raid5", "5", "raid6", "6", "raid10", "10"} {
				out = append(out, `{"name":"md`+string(rune('a'+i))+`","level":"`+l+`","devices":["/dev/sda"]}`)
			}
			return out
		}(), ",") + `]}}`},
		{name: "no level", json: raid(`"devices":["/dev/sda"]`), want: []entry{E(r+".level", msgRaidLevelRequired)}},
		{name: "empty level", json: raid(`"level":"","devices":["/dev/sda"]`), want: []entry{E(r+".level", msgRaidLevelRequired)}},
		{name: "unknown level", json: raid(`"level":"raid7","devices":["/dev/sda"]`), want: []entry{E(r+".level", msgRaidLevel)}},
		{name: "spares on raid0", json: raid(`"level":"raid0","devices":["/dev/sda"],"spares":1`), want: []entry{E(r+".level", msgRaidSpares)}},
		{name: "spares on linear", json: raid(`"level":"linear","devices":["/dev/sda"],"spares":2`), want: []entry{E(r+".level", msgRaidSpares)}},
		{name: "zero spares on stripe", json: raid(`"level":"stripe","devices":["/dev/sda"],"spares":0`)},
		{name: "no devices", json: raid(`"level":"raid1"`), want: []entry{E(r+".devices", msgRaidDevices)}},
		{name: "no devices 3.0", version: "3.0.0", json: raid(`"level":"raid1","devices":[]`), want: []entry{E(r+".devices", msgRaidDevices)}},
		{name: "bad device", json: raid(`"level":"raid1","devices":["/dev/sda","sdb"]`), want: []entry{E(r+".devices.1", msgPathRelative)}},
		{name: "duplicate device", json: raid(`"level":"raid1","devices":["/dev/sda","/dev/sda"]`), want: []entry{E(r+".devices.1", msgDuplicate)}},
	})
}

func fs(fields string) string {
	return `{"storage":{"filesystems":[{` + fields + `}]}}`
}

func TestFilesystems(t *testing.T) {
	f := "$.storage.filesystems.0"
	runCases(t, []ruleCase{
		{name: "ok", json: fs(`"device":"/dev/sda1","format":"ext4","path":"/var","label":"var","uuid":"x","wipeFilesystem":true,"options":["-b","-b"],"mountOptions":["ro","ro"]`)},
		{name: "device only", json: fs(`"device":"/dev/sda1"`)},
		{name: "relative path", json: fs(`"device":"/dev/sda1","format":"ext4","path":"var"`), want: []entry{E(f+".path", msgPathRelative)}},
		{name: "empty path", json: fs(`"device":"/dev/sda1","format":"ext4","path":""`)},
		{name: "no device", json: fs(`"format":"ext4"`), want: []entry{E(f+".device", msgPathEmpty)}},
		{name: "unclean device", json: fs(`"device":"/dev/sda1/","format":"ext4"`), want: []entry{E(f+".device", msgPathUnclean)}},
		{name: "path without format", json: fs(`"device":"/dev/sda1","path":"/var"`), want: []entry{E(f+".format", msgFormatNeeded)}},
		{name: "uuid without format", json: fs(`"device":"/dev/sda1","format":"","uuid":"x"`), want: []entry{E(f+".format", msgFormatNeeded)}},
		{name: "wipe without format", json: fs(`"device":"/dev/sda1","wipeFilesystem":true`), want: []entry{E(f+".format", msgFormatNeeded)}},
		{name: "no wipe without format", json: fs(`"device":"/dev/sda1","wipeFilesystem":false,"path":"","uuid":""`)},
		{name: "options without format", json: fs(`"device":"/dev/sda1","options":["-F"]`), want: []entry{E(f+".format", msgFormatNeeded)}},
		{name: "mount options without format", json: fs(`"device":"/dev/sda1","mountOptions":["ro"]`), want: []entry{E(f+".format", msgFormatNeeded)}},
		{name: "label without format", json: fs(`"device":"/dev/sda1","label":"x"`),
			want: []entry{E(f+".format", msgFormatNeeded), E(f+".label", msgLabelNeedsFormat)}},
		{name: "unknown format", json: fs(`"device":"/dev/sda1","format":"ext5"`), want: []entry{E(f+".format", msgFormat)}},
		{name: "unknown format long label", json: fs(`"device":"/dev/sda1","format":"zfs","label":"` + strings.Repeat("a", 300) + `"`), want: []entry{E(f+".format", msgFormat)}},
		{name: "none has no label limit", json: fs(`"device":"/dev/sda1","format":"none","label":"` + strings.Repeat("a", 300) + `"`)},
	})
}

func TestFilesystemLabels(t *testing.T) {
	at := "$.storage.filesystems.0.label"
	var cases []ruleCase
	for _, tc := range []struct {
		format string
		max    int
	}{{"ext4", 16}, {"btrfs", 256}, {"xfs", 12}, {"swap", 15}, {"vfat", 11}} {
		msg := "filesystem labels cannot be longer than " + strconv.Itoa(tc.max) + " characters when using " + tc.format
		label := func(n int) string {
			return fs(`"device":"/dev/sda1","format":"` + tc.format + `","label":"` + strings.Repeat("L", n) + `"`)
		}
		cases = append(cases,
			ruleCase{name: tc.format + " at limit", json: label(tc.max)},
			ruleCase{name: tc.format + " over limit", json: label(tc.max + 1), want: []entry{E(at, msg)}},
		)
	}
	runCases(t, cases)
}

func TestVirtiofs(t *testing.T) {
	const v37 = "3.7.0-experimental"
	f := "$.storage.filesystems.0"
	runCases(t, []ruleCase{
		{name: "ok", version: v37, json: fs(`"device":"shared","format":"virtiofs","path":"/srv","mountOptions":["ro"]`)},
		{name: "tag at limit", version: v37, json: fs(`"device":"` + strings.Repeat("t", 36) + `","format":"virtiofs"`)},
		{name: "no tag", version: v37, json: fs(`"device":"","format":"virtiofs"`), want: []entry{E(f+".device", msgVirtiofsNoTag)}},
		{name: "tag too long", version: v37, json: fs(`"device":"` + strings.Repeat("t", 37) + `","format":"virtiofs"`), want: []entry{E(f+".device", msgVirtiofsTagLong)}},
		{name: "label", version: v37, json: fs(`"device":"shared","format":"virtiofs","label":"x"`), want: []entry{E(f+".label", msgVirtiofsLabel)}},
		{name: "uuid", version: v37, json: fs(`"device":"shared","format":"virtiofs","uuid":"x"`), want: []entry{E(f+".uuid", msgVirtiofsUUID)}},
		{name: "wipe", version: v37, json: fs(`"device":"shared","format":"virtiofs","wipeFilesystem":true`), want: []entry{E(f+".wipeFilesystem", msgVirtiofsWipe)}},
		{name: "mkfs options", version: v37, json: fs(`"device":"shared","format":"virtiofs","options":["-x"]`), want: []entry{E(f+".options", msgVirtiofsMkfs)}},
		{name: "all at once", version: v37, json: fs(`"device":"","format":"virtiofs","label":"x","uuid":"y","wipeFilesystem":true,"options":["-x"]`),
			want: []entry{E(f+".device", msgVirtiofsNoTag), E(f+".label", msgVirtiofsLabel), E(f+".uuid", msgVirtiofsUUID), E(f+".wipeFilesystem", msgVirtiofsWipe), E(f+".options", msgVirtiofsMkfs)}},
		// Before 3.7.0-experimental virtiofs is just an unknown format and
		// the device must be a path.
		{name: "3.6", json: fs(`"device":"shared","format":"virtiofs","label":"x","uuid":"y"`),
			want: []entry{E(f+".device", msgPathRelative), E(f+".format", msgFormat)}},
	})
}

func TestFilesystemsOnDisks(t *testing.T) {
	at := "$.storage.filesystems.0.device"
	runCases(t, []ruleCase{
		{name: "partitioned", json: `{"storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1}]}],"filesystems":[{"device":"/dev/sda","format":"ext4"}]}}`,
			want: []entry{W(at, msgOverwritesParts)}},
		{name: "on a partition", json: `{"storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1}]}],"filesystems":[{"device":"/dev/sda1","format":"ext4"}]}}`},
		{name: "wiped table", json: `{"storage":{"disks":[{"device":"/dev/sda","wipeTable":true}],"filesystems":[{"device":"/dev/sda","format":"ext4"}]}}`,
			want: []entry{W(at, msgWipedByTable)}},
		{name: "wiped table and filesystem", json: `{"storage":{"disks":[{"device":"/dev/sda","wipeTable":true}],"filesystems":[{"device":"/dev/sda","format":"ext4","wipeFilesystem":true}]}}`},
		{name: "kept table", json: `{"storage":{"disks":[{"device":"/dev/sda","wipeTable":false}],"filesystems":[{"device":"/dev/sda","format":"ext4"}]}}`},
		// The last disk entry for a device wins, as when applying.
		{name: "last disk wins", json: `{"storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1}]},{"device":"/dev/sda","wipeTable":true}],"filesystems":[{"device":"/dev/sda","format":"ext4"}]}}`,
			want: []entry{W(at, msgWipedByTable), E("$.storage.disks.1", msgDuplicate)}},
	})
}

func luks(fields string) string {
	return `{"storage":{"luks":[{"name":"root","device":"/dev/sda2",` + fields + `}]}}`
}

func TestLuks(t *testing.T) {
	l := "$.storage.luks.0"
	runCases(t, []ruleCase{
		{name: "tpm2", json: luks(`"clevis":{"tpm2":true},"label":"` + strings.Repeat("l", 47) + `","options":["--x","--x"]`)},
		{name: "key file", json: luks(`"keyFile":{"source":"data:,secret"}`)},
		{name: "slash in name", json: `{"storage":{"luks":[{"name":"a/b","device":"/dev/sda2"}]}}`, want: []entry{E(l+".name", msgLuksNameSlash)}},
		{name: "long label", json: luks(`"label":"` + strings.Repeat("l", 48) + `"`), want: []entry{E(l+".label", msgLuksLabelLong)}},
		{name: "no device", json: `{"storage":{"luks":[{"name":"root"}]}}`, want: []entry{E(l+".device", msgDiskDevice)}},
		{name: "empty device", json: `{"storage":{"luks":[{"name":"root","device":""}]}}`, want: []entry{E(l+".device", msgDiskDevice)}},
		{name: "relative device", json: `{"storage":{"luks":[{"name":"root","device":"sda2"}]}}`, want: []entry{E(l+".device", msgPathRelative)}},
		{name: "custom with tpm2", json: luks(`"clevis":{"tpm2":true,"custom":{"pin":"tpm2","config":"{}"}}`), want: []entry{E(l+".clevis", msgClevisMixed)}},
		{name: "custom with tang", json: luks(`"clevis":{"tang":[{"url":"http://t","thumbprint":"x"}],"custom":{"pin":"tang","config":"{}"}}`), want: []entry{E(l+".clevis", msgClevisMixed)}},
		{name: "custom with threshold", json: luks(`"clevis":{"threshold":2,"custom":{"pin":"sss","config":"{}"}}`), want: []entry{E(l+".clevis", msgClevisMixed)}},
		{name: "custom with zero threshold", json: luks(`"clevis":{"threshold":0,"tpm2":false,"tang":[],"custom":{"pin":"sss","config":"{}"}}`)},
		// Reported at "keys", a key no version has; the line is the volume's.
		{name: "bad key file", json: luks(`"keyFile":{"source":"ftp://k"}`),
			want: []entry{E(l+".keys", msgLuksKeyFile), E(l+".keyFile.source", msgURLScheme)}},
		{name: "key file checks", json: luks(`"keyFile":{"source":"https://k","compression":"xz","httpHeaders":[{"name":"A","value":"1"}]}`),
			want: []entry{E(l+".keyFile.compression", msgCompression)}},
		{name: "cex", version: "3.5.0", json: luks(`"cex":{"enabled":true}`)},
		{name: "cex disabled with clevis", version: "3.5.0", json: luks(`"cex":{"enabled":false},"clevis":{"tpm2":true},"keyFile":{"source":"data:,k"}`)},
		{name: "cex with tpm2", version: "3.5.0", json: luks(`"cex":{"enabled":true},"clevis":{"tpm2":true}`), want: []entry{E(l+".cex", msgCexClevis)}},
		{name: "cex with threshold", json: luks(`"cex":{"enabled":true},"clevis":{"threshold":1}`), want: []entry{E(l+".cex", msgCexClevis)}},
		{name: "cex with custom pin", json: luks(`"cex":{"enabled":true},"clevis":{"custom":{"pin":"tpm2","config":"{}"}}`), want: []entry{E(l+".cex", msgCexClevis)}},
		{name: "cex with key file", version: "3.5.0", json: luks(`"cex":{"enabled":true},"keyFile":{"source":"data:,k"}`), want: []entry{E(l+".cex", msgCexKeyFile)}},
		{name: "cex with empty key file", json: luks(`"cex":{"enabled":true},"keyFile":{"source":""}`)},
	})
}

func TestClevisCustom(t *testing.T) {
	c := "$.storage.luks.0.clevis.custom"
	custom := func(fields string) string { return luks(`"clevis":{"custom":{` + fields + `}}`) }
	runCases(t, []ruleCase{
		{name: "tpm2", json: custom(`"pin":"tpm2","config":"{}","needsNetwork":false`)},
		{name: "sss", version: "3.2.0", json: custom(`"pin":"sss","config":"{}"`)},
		{name: "any pin", json: custom(`"pin":"foo","config":"{}"`)},
		{name: "any pin before 3.6", version: "3.5.0", json: custom(`"pin":"foo","config":"{}"`), want: []entry{E(c+".pin", msgClevisPin)}},
		{name: "no pin", json: custom(`"config":"{}"`), want: []entry{E(c+".pin", msgClevisPinMissing)}},
		{name: "no pin 3.3", version: "3.3.0", json: custom(`"pin":"","config":"{}"`), want: []entry{E(c+".pin", msgClevisPinMissing)}},
		{name: "no pin 3.2", version: "3.2.0", json: custom(`"config":"{}"`), want: []entry{E(c+".pin", msgClevisPin)}},
		{name: "no config", json: custom(`"pin":"tpm2"`), want: []entry{E(c+".config", msgClevisConfig)}},
		{name: "needs network only", json: custom(`"needsNetwork":true`), want: []entry{E(c+".pin", msgClevisPinMissing), E(c+".config", msgClevisConfig)}},
		{name: "unused", json: custom(`"pin":"","config":"","needsNetwork":false`)},
	})
}

func TestTang(t *testing.T) {
	at := "$.storage.luks.0.clevis.tang"
	tang := func(servers string) string { return luks(`"clevis":{"tang":[` + servers + `]}`) }
	runCases(t, []ruleCase{
		{name: "ok", json: tang(`{"url":"http://t1","thumbprint":"x","advertisement":"{\"payload\":\"x\"}"},{"url":"https://t2","thumbprint":"y","advertisement":""}`)},
		{name: "scheme", json: tang(`{"url":"tftp://t","thumbprint":"x"}`), want: []entry{E(at+".0.url", msgURLScheme)}},
		{name: "no url", json: tang(`{"thumbprint":"x"}`), want: []entry{E(at+".0.url", msgURLScheme)}},
		{name: "unparsable url", json: tang(`{"url":"http://[::1","thumbprint":"x"}`), want: []entry{E(at+".0.url", msgURLParse)}},
		{name: "gs is not for tang", json: tang(`{"url":"gs://t","thumbprint":"x"}`), want: []entry{E(at+".0.url", msgURLScheme)}},
		{name: "no thumbprint", json: tang(`{"url":"http://t"}`), want: []entry{E(at+".0.thumbprint", msgTangThumbprint)}},
		{name: "empty thumbprint", json: tang(`{"url":"http://t","thumbprint":""}`), want: []entry{E(at+".0.thumbprint", msgTangThumbprint)}},
		{name: "bad advertisement", json: tang(`{"url":"http://t","thumbprint":"x","advertisement":"{"}`), want: []entry{E(at+".0.advertisement", msgTangAdvert)}},
		{name: "duplicate", json: tang(`{"url":"http://t","thumbprint":"x"},{"url":"http://t","thumbprint":"y"}`), want: []entry{E(at+".1", msgDuplicate)}},
		{name: "3.2", version: "3.2.0", json: tang(`{"url":"ftp://t"}`), want: []entry{E(at+".0.url", msgURLScheme), E(at+".0.thumbprint", msgTangThumbprint)}},
	})
}
