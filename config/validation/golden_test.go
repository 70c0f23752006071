package validation_test

import (
	"testing"

	"github.com/ignition-go/ignition/config"
)

// TestGoldenReports checks whole report text as users see it, line and
// column included, through config.Parse.
func TestGoldenReports(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		want string
	}{
		{
			name: "one line",
			raw:  `{"ignition":{"version":"3.6.0"},"storage":{"files":[{"path":"etc/motd"}]}}`,
			want: "error at $.storage.files.0.path, line 1 col 61: path not absolute\n",
		},
		{
			// "keys" does not exist in the JSON, so the entry is placed at
			// the volume.
			name: "luks key file",
			raw: `{
  "ignition": {"version": "3.6.0"},
  "storage": {
    "luks": [
      {"name": "root", "device": "/dev/sda2", "keyFile": {"source": "ftp://k"}}
    ]
  }
}`,
			want: "error at $.storage.luks.0.keys, line 5 col 7: invalid key-file source\n" +
				"error at $.storage.luks.0.keyFile.source, line 5 col 69: invalid url scheme\n",
		},
		{
			name: "warnings, duplicates and unused keys",
			raw: `{
  "ignition": {"version": "3.5.0"},
  "storage": {
    "files": [
      {"path": "/a", "mode": 2541},
      {"path": "/a", "bogus": 1}
    ]
  }
}`,
			want: "warning at $.storage.files.0.mode, line 5 col 30: setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0\n" +
				"error at $.storage.files.1, line 6 col 7: duplicate entry defined\n" +
				"warning at $.storage.files.1.bogus, line 6 col 22: unused key bogus\n",
		},
		{
			name: "disk-level entry",
			raw: `{"ignition": {"version": "3.0.0"},
"storage": {"disks": [{"device": "/dev/sda", "partitions": [
  {"number": 1, "shouldExist": false},
  {"label": "data"}]}]}}`,
			want: "error at $.storage.disks.0.partitions, line 2 col 60: shouldExist is false for a partition and other partition(s) has start or size 0\n",
		},
		{
			name: "template warning",
			raw: `{"ignition": {"version": "3.6.0"}, "systemd": {"units": [
{"name": "getty@.service", "contents": "[Service]\nExecStart=/bin/true\n"},
{"name": "getty@tty1.service", "enabled": true}]}}`,
			want: `warning at $.systemd.units.1.contents, line 3 col 1: template unit "getty@.service" for "getty@tty1.service" doesn't have Install section` + "\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r, _ := config.Parse([]byte(tc.raw))
			if got := r.String(); got != tc.want {
				t.Errorf("report:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}
