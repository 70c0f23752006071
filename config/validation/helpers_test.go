package validation_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/coreos/vcontext/report"

	"github.com/ignition-go/ignition/config"
)

// The messages, spelled out here independently of the package so that a
// typo on either side fails the tests: they are a compatibility interface.
const (
	msgPathEmpty      = "path not specified"
	msgPathRelative   = "path not absolute"
	msgPathUnclean    = "path is not fully simplified"
	msgURLParse       = "unable to parse url"
	msgURLScheme      = "invalid url scheme"
	msgS3VersionID    = "invalid S3 object VersionId"
	msgS3ARN          = "invalid S3 ARN format"
	msgSourceRequired = "source is required"
	msgSourceForHash  = "source must be specified if verification is specified"
	msgCompression    = "invalid compression method"
	msgHeaderName     = "HTTP header name can't be empty"
	msgHeaderValue    = "unable to parse HTTP header"
	msgHeaderScheme   = "cannot use HTTP headers with this source scheme"
	msgHashMalformed  = "malformed hash specifier"
	msgHashFunction   = "unrecognized hash function"
	msgHashSize       = "incorrect size for hash sum"
	msgProxyScheme    = "proxies must be http(s)"
	msgProxyPlaintext = "insecure plaintext HTTP proxy specified for HTTPS resources"

	msgDiskDevice        = "disk device is required"
	msgPartNumbers       = "partition numbers collide"
	msgPartOverlap       = "partitions overlap"
	msgPartZeroes        = "shouldExist is false for a partition and other partition(s) has start or size 0"
	msgPartLabelTwice    = "cannot use the same partition label twice"
	msgPartShouldNotWith = "shouldExist specified false with other options also specified"
	msgPartNeedID        = "a partition number >= 1 or a label must be specified"
	msgPartLabelLong     = "partition labels may not exceed 36 characters"
	msgPartLabelColon    = "partition label will be truncated to text before the colon"
	msgGUID              = `doesn't match the form "01234567-89AB-CDEF-EDCB-A98765432101"`
	msgRaidLevelRequired = "raid level is required"
	msgRaidLevel         = "unrecognized raid level"
	msgRaidSpares        = "spares unsupported for linear and raid0 arrays"
	msgRaidDevices       = "raid devices required"

	msgFormat           = "invalid filesystem format"
	msgFormatNeeded     = "format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified"
	msgLabelNeedsFormat = "filesystem must specify format if label is specified"
	msgVirtiofsLabel    = "filesystem labels cannot be set when using virtiofs"
	msgVirtiofsNoTag    = "device not specified"
	msgVirtiofsTagLong  = "virtiofs device tag cannot be longer than 36 bytes"
	msgVirtiofsUUID     = "filesystem uuid cannot be set for non-block-device filesystems"
	msgVirtiofsWipe     = "wipeFilesystem cannot be set for non-block-device filesystems"
	msgVirtiofsMkfs     = "filesystem options (mkfs) cannot be set for non-block-device filesystems"
	msgOverwritesParts  = "filesystem overwrites partitioned device"
	msgWipedByTable     = "device matches disk with wipeTable enabled; filesystem will be wiped"

	msgLuksNameSlash    = "device names cannot contain slashes"
	msgLuksLabelLong    = "luks device labels cannot be longer than 47 characters"
	msgLuksKeyFile      = "invalid key-file source"
	msgClevisPinMissing = "missing required custom clevis pin"
	msgClevisPin        = "unsupported clevis pin"
	msgClevisConfig     = "missing required custom clevis config"
	msgClevisMixed      = "cannot use custom clevis config with tpm2, tang, or threshold"
	msgTangThumbprint   = "thumbprint is required"
	msgTangAdvert       = "advertisement is not valid JSON"
	msgCexClevis        = "cannot use cex with clevis"
	msgCexKeyFile       = "cannot use key file with cex"

	msgFileUnderLink  = "file path includes link in config"
	msgDirUnderLink   = "directory path includes link in config"
	msgLinkUnderLink  = "link path includes link in config"
	msgLinkTarget     = "link target is required"
	msgHardLinkDir    = "hard link target is a directory"
	msgHardLinkOwner  = "user/group ignored for hard link"
	msgOverwriteNoSrc = "overwrite must be false if source is unspecified"
	msgMode           = "illegal file mode"
	msgModeSpecial    = "setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0"
	msgIDAndName      = "cannot set both id and name"
	msgSystemdPath    = "path conflicts with systemd unit or dropin"

	msgUnitExt   = "invalid systemd unit extension"
	msgDropinExt = "invalid systemd drop-in extension"
	msgDuplicate = "duplicate entry defined"
)

// entry is a report entry without its line and column.
type entry struct{ kind, path, msg string }

func (e entry) String() string { return fmt.Sprintf("%s at %s: %s", e.kind, e.path, e.msg) }

func E(path, msg string) entry { return entry{"error", path, msg} }
func W(path, msg string) entry { return entry{"warning", path, msg} }

func entries(r report.Report) []entry {
	var out []entry
	for _, e := range r.Entries {
		out = append(out, entry{e.Kind.String(), e.Context.String(), e.Message})
	}
	return out
}

// withVersion returns body, a JSON config without ignition.version, with
// ignition.version set to version. Numbers are kept as written.
func withVersion(t testing.TB, version, body string) []byte {
	t.Helper()
	if body == "" {
		body = "{}"
	}
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("bad test JSON %s: %v", body, err)
	}
	ign, _ := m["ignition"].(map[string]any)
	if ign == nil {
		ign = map[string]any{}
	}
	ign["version"] = version
	m["ignition"] = ign
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// check parses body as a config of version and compares the whole report
// (kinds, paths and messages, in order) with want.
func check(t *testing.T, version, body string, want []entry) {
	t.Helper()
	raw := withVersion(t, version, body)
	_, r, err := config.Parse(raw)
	got := entries(r)
	if !equal(got, want) {
		t.Errorf("%s %s\n got: %s\nwant: %s", version, body, lines(got), lines(want))
	}
	hasError := false
	for _, e := range want {
		hasError = hasError || e.kind == "error"
	}
	if (err != nil) != hasError {
		t.Errorf("%s %s: Parse error %v, want error: %v", version, body, err, hasError)
	}
}

func equal(a, b []entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func lines(es []entry) string {
	if len(es) == 0 {
		return "(none)"
	}
	var b strings.Builder
	for _, e := range es {
		b.WriteString("\n\t" + e.String())
	}
	return b.String()
}

// ruleCase is one config and the report it must produce; no entries means
// the config must be valid with no warnings.
type ruleCase struct {
	name    string
	version string // "" means 3.6.0
	json    string
	want    []entry
}

func runCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.version
			if v == "" {
				v = "3.6.0"
			}
			check(t, v, tc.json, tc.want)
		})
	}
}

// Helpers to keep JSON in test tables short.

// hashOf returns a well-formed hash string of fn with n hex digits.
func hashOf(fn string, n int) string { return fn + "-" + strings.Repeat("a", n) }

// fileWith returns a storage section with one file at /f whose contents
// resource is res (a JSON object).
func fileWith(res string) string {
	return `{"storage":{"files":[{"path":"/f","contents":` + res + `}]}}`
}

// src returns a contents resource with just a source.
func src(s string) string { return fileWith(`{"source":` + quote(s) + `}`) }

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
