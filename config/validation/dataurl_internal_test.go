package validation

import (
	"math/rand/v2"
	"testing"

	"github.com/vincent-petithory/dataurl"

	"github.com/ignition-go/ignition/config/v3_6"
)

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// sameAsDecoder fails unless checkDataURL and the decoder agree on s, and
// the fast data URL path of checkURL agrees with the exact one.
func sameAsDecoder(t *testing.T, s string) {
	t.Helper()
	_, want := dataurl.DecodeString(s)
	if got := checkDataURL(s); errText(got) != errText(want) {
		t.Errorf("%q: got %s, decoder says %s", s, errText(got), errText(want))
	}
	if got, want := checkURL(&v3_6.Spec, s), checkURLExact(&v3_6.Spec, s); errText(got) != errText(want) {
		t.Errorf("%q: checkURL says %s, checkURLExact says %s", s, errText(got), errText(want))
	}
}

// TestDataURLsMatchDecoder holds the fast data URL check to the decoder's
// verdicts and messages, over every combination of tricky headers and data
// parts and over random strings built from the characters that matter.
func TestDataURLsMatchDecoder(t *testing.T) {
	headers := []string{
		"data:", "DATA:", "data", "dat:", "data:text/plain", "data:text/plain;charset=utf-8",
		"data:;base64", "data:text/plain;base64", "data:image/png;base64", "data:x-foo/bar;base64",
		"data:text/plain;base64;x=y", "data:text/plain;charset=%zz", "data:text/plain;charset=%41",
		`data:text/plain;name="a,b"`, `data:text/plain;name="a\"b";base64`, "data:foo", "data:foo/bar",
		"data:text/", "data:text/plain;", "data:text/plain;a", "data:text/plain;a=", "data:;charset=x;base64",
		"data:text/plain;BASE64", "data:text/plain;base64x", "data:X", "data:x-", "data:x-a/b",
		"data:text/plain#x", "data:\x01", "data:text/plain;a=\x7f", "daTa:",
	}
	datas := []string{"a#b", "%41#%zz", "x\x01", "a\nb",
		"", "hello", "a%20b", "%2", "%", "%zz", "%2z", "%%41", "a%41%", "aGk=", "aGk", "aG k=", "aGk=\n", "aG\nk=",
		"aGk=\r", "é", "\xff", "a b", "<", "a,b", "====", "YQ==YQ==", "YQ", "Y", "~!$&'()*+;=:@/?", "\t", "\x7f", "{}|^`[]",
	}
	for _, h := range headers {
		sameAsDecoder(t, h)
		for _, d := range datas {
			sameAsDecoder(t, h+","+d)
		}
	}

	const alphabet = "aA0+/=\n%2fz ,;:\"\\é\xffdt#\x01"
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		b := []byte(headers[r.IntN(len(headers))] + ",")
		for range r.IntN(12) {
			b = append(b, alphabet[r.IntN(len(alphabet))])
		}
		sameAsDecoder(t, string(b))
	}
}

func FuzzDataURL(f *testing.F) {
	for _, s := range []string{"data:,a", "data:;base64,aGk=", "data:text/plain;charset=\"x,y\",%41", "data:,%4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { sameAsDecoder(t, s) })
}
