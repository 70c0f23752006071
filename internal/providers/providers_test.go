package providers

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}

func TestMaybeGunzip(t *testing.T) {
	cfg := `{"ignition": {"version": "3.4.0"}}`
	for _, tc := range []struct {
		name string
		in   []byte
		want string
		err  string
	}{
		{"plain", []byte(cfg), cfg, ""},
		{"empty", nil, "", ""},
		{"gzip", gz(t, cfg), cfg, ""},
		{"gzip magic, then garbage", []byte{0x1f, 0x8b, 'x', 'y'}, "", "looks gzip-compressed but is not"},
		{"truncated gzip", gz(t, strings.Repeat(cfg, 100))[:30], "", "decompressing gzip user data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MaybeGunzip(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("= %q, %v", got, err)
			}
		})
	}
}
