package validation_test

import (
	"strings"
	"testing"
)

const contents = "$.storage.files.0.contents"

func TestSourceURLs(t *testing.T) {
	at := contents + ".source"
	runCases(t, []ruleCase{
		{name: "http", json: src("http://example.com/a")},
		{name: "https", json: src("https://example.com/a")},
		{name: "tftp", json: src("tftp://example.com/a")},
		{name: "gs", json: src("gs://bucket/a")},
		{name: "s3", json: src("s3://bucket/a")},
		{name: "s3 version", json: src("s3://bucket/a?versionId=abc")},
		{name: "s3 empty version", json: src("s3://bucket/a?versionId="), want: []entry{E(at, msgS3VersionID)}},
		{name: "data", json: src("data:,hello")},
		{name: "data base64", json: src("data:text/plain;base64,aGk=")},
		// The decoder library's message is passed through.
		{name: "data bad media type", json: src("data:foo"), want: []entry{E(at, "missing media type slash")}},
		{name: "data no comma", json: src("data:"), want: []entry{E(at, "missing comma before data")}},
		{name: "empty is empty contents", json: src("")},
		{name: "unknown scheme", json: src("ftp://example.com/a"), want: []entry{E(at, msgURLScheme)}},
		{name: "no scheme", json: src("/etc/hosts"), want: []entry{E(at, msgURLScheme)}},
		{name: "file scheme not adopted", version: "3.7.0-experimental", json: src("file:///etc/hosts"), want: []entry{E(at, msgURLScheme)}},
		{name: "oem scheme not adopted", json: src("oem:///a"), want: []entry{E(at, msgURLScheme)}},
		{name: "unparsable", json: src("http://[::1"), want: []entry{E(at, msgURLParse)}},
		{name: "upper-case scheme", json: src("HTTPS://example.com/a")},
	})
}

func TestS3ARNs(t *testing.T) {
	at := contents + ".source"
	runCases(t, []ruleCase{
		{name: "bucket object", json: src("arn:aws:s3:::bucket/key")},
		{name: "bucket nested object", json: src("arn:aws:s3:::bucket/dir/key?versionId=v1")},
		{name: "access point object", json: src("arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/key")},
		{name: "other partition", json: src("arn:aws-cn:s3:::bucket/key")},
		{name: "not s3", json: src("arn:aws:iam::123456789012:user/david"), want: []entry{E(at, msgS3ARN)}},
		{name: "too few sections", json: src("arn:aws:s3:bucket/key"), want: []entry{E(at, msgS3ARN)}},
		{name: "bucket without key", json: src("arn:aws:s3:::bucket"), want: []entry{E(at, msgS3ARN)}},
		{name: "access point without object", json: src("arn:aws:s3:us-west-2:123456789012:accesspoint/ap"), want: []entry{E(at, msgS3ARN)}},
		{name: "empty version", json: src("arn:aws:s3:::bucket/key?versionId="), want: []entry{E(at, msgS3VersionID)}},
	})
}

func TestCompression(t *testing.T) {
	at := contents + ".compression"
	runCases(t, []ruleCase{
		{name: "gzip", json: fileWith(`{"source":"data:,a","compression":"gzip"}`)},
		{name: "empty", json: fileWith(`{"source":"data:,a","compression":""}`)},
		{name: "null", json: fileWith(`{"source":"data:,a","compression":null}`)},
		{name: "xz", json: fileWith(`{"source":"data:,a","compression":"xz"}`), want: []entry{E(at, msgCompression)}},
		{name: "3.0 contents", version: "3.0.0", json: fileWith(`{"source":"data:,a","compression":"bz2"}`), want: []entry{E(at, msgCompression)}},
		{name: "merged config", json: `{"ignition":{"config":{"merge":[{"source":"http://a","compression":"zstd"}]}}}`,
			want: []entry{E("$.ignition.config.merge.0.compression", msgCompression)}},
	})
}

func TestVerification(t *testing.T) {
	at := contents + ".verification.hash"
	withHash := func(source, hash string) string {
		if source == "<nil>" {
			return fileWith(`{"verification":{"hash":` + quote(hash) + `}}`)
		}
		return fileWith(`{"source":` + quote(source) + `,"verification":{"hash":` + quote(hash) + `}}`)
	}
	runCases(t, []ruleCase{
		{name: "sha512", json: withHash("data:,a", hashOf("sha512", 128))},
		{name: "sha256", json: withHash("data:,a", hashOf("sha256", 64))},
		{name: "empty source counts", json: withHash("", hashOf("sha512", 128))},
		{name: "no source", json: withHash("<nil>", hashOf("sha512", 128)), want: []entry{E(at, msgSourceForHash)}},
		{name: "no source and bad hash", json: withHash("<nil>", "x"), want: []entry{E(at, msgSourceForHash), E(at, msgHashMalformed)}},
		{name: "no dash", json: withHash("data:,a", "sha512"), want: []entry{E(at, msgHashMalformed)}},
		{name: "empty", json: withHash("data:,a", ""), want: []entry{E(at, msgHashMalformed)}},
		{name: "unknown function", json: withHash("data:,a", hashOf("md5", 32)), want: []entry{E(at, msgHashFunction)}},
		{name: "function is case sensitive", json: withHash("data:,a", hashOf("SHA512", 128)), want: []entry{E(at, msgHashFunction)}},
		{name: "short", json: withHash("data:,a", hashOf("sha512", 127)), want: []entry{E(at, msgHashSize)}},
		{name: "sha256 with sha512 length", json: withHash("data:,a", hashOf("sha256", 128)), want: []entry{E(at, msgHashSize)}},
		// Only the length is checked; the split is at the first dash.
		{name: "not hex", json: withHash("data:,a", "sha256-"+strings.Repeat("z-", 32))},
		{name: "3.0 no sha256", version: "3.0.0", json: withHash("data:,a", hashOf("sha256", 64)), want: []entry{E(at, msgHashFunction)}},
		{name: "3.0 sha512", version: "3.0.0", json: withHash("data:,a", hashOf("sha512", 128))},
	})
}

func TestHTTPHeaders(t *testing.T) {
	hat := contents + ".httpHeaders"
	runCases(t, []ruleCase{
		{name: "http", json: fileWith(`{"source":"http://a/b","httpHeaders":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}`)},
		{name: "https", json: fileWith(`{"source":"https://a/b","httpHeaders":[{"name":"A","value":"1"}]}`)},
		// No value: the merge marker that deletes a parent's header.
		{name: "no value", json: fileWith(`{"source":"https://a/b","httpHeaders":[{"name":"A"}]}`)},
		{name: "empty list without source", json: fileWith(`{"httpHeaders":[]}`)},
		{name: "empty name", json: fileWith(`{"source":"https://a/b","httpHeaders":[{"name":"","value":"1"}]}`),
			want: []entry{E(hat+".0.name", msgHeaderName)}},
		{name: "empty value", json: fileWith(`{"source":"https://a/b","httpHeaders":[{"name":"A","value":""}]}`),
			want: []entry{E(hat+".0.value", msgHeaderValue)}},
		{name: "no source", json: fileWith(`{"httpHeaders":[{"name":"A","value":"1"}]}`),
			want: []entry{E(hat, msgURLParse)}},
		{name: "empty source", json: fileWith(`{"source":"","httpHeaders":[{"name":"A","value":"1"}]}`),
			want: []entry{E(hat, msgURLParse)}},
		{name: "unparsable source", json: fileWith(`{"source":"http://[::1","httpHeaders":[{"name":"A","value":"1"}]}`),
			want: []entry{E(contents+".source", msgURLParse), E(hat, msgURLParse)}},
		{name: "s3 source", json: fileWith(`{"source":"s3://b/k","httpHeaders":[{"name":"A","value":"1"}]}`),
			want: []entry{E(hat, msgHeaderScheme)}},
		{name: "data source", json: fileWith(`{"source":"data:,a","httpHeaders":[{"name":"A","value":"1"}]}`),
			want: []entry{E(hat, msgHeaderScheme)}},
		{name: "duplicate names", json: fileWith(`{"source":"https://a/b","httpHeaders":[{"name":"A","value":"1"},{"name":"a","value":"2"},{"name":"A","value":"3"}]}`),
			want: []entry{E(hat+".2", msgDuplicate)}},
		{name: "merged config", json: `{"ignition":{"config":{"merge":[{"source":"s3://b/k","httpHeaders":[{"name":"","value":"1"}]}]}}}`,
			want: []entry{E("$.ignition.config.merge.0.httpHeaders", msgHeaderScheme), E("$.ignition.config.merge.0.httpHeaders.0.name", msgHeaderName)}},
	})
}

func TestMergeAndCASources(t *testing.T) {
	merge := "$.ignition.config.merge.0"
	ca := "$.ignition.security.tls.certificateAuthorities.0"
	runCases(t, []ruleCase{
		{name: "merge ok", json: `{"ignition":{"config":{"merge":[{"source":"https://a/c.ign"}]}}}`},
		{name: "merge no source", version: "3.1.0", json: `{"ignition":{"config":{"merge":[{}]}}}`,
			want: []entry{E(merge, msgSourceRequired)}},
		{name: "merge empty source", json: `{"ignition":{"config":{"merge":[{"source":""}]}}}`,
			want: []entry{E(merge, msgSourceRequired)}},
		{name: "merge no source 3.0", version: "3.0.0", json: `{"ignition":{"config":{"merge":[{}]}}}`},
		// Reported at the entry and at its source, as the reference does.
		{name: "merge bad source", json: `{"ignition":{"config":{"merge":[{"source":"ftp://a"}]}}}`,
			want: []entry{E(merge, msgURLScheme), E(merge+".source", msgURLScheme)}},
		{name: "merge bad source 3.0", version: "3.0.0", json: `{"ignition":{"config":{"merge":[{"source":"ftp://a"}]}}}`,
			want: []entry{E(merge+".source", msgURLScheme)}},
		{name: "merge checked before its resources", json: `{"ignition":{"config":{"merge":[{"source":"ftp://a"},{}]}}}`,
			want: []entry{E(merge, msgURLScheme), E("$.ignition.config.merge.1", msgSourceRequired), E(merge+".source", msgURLScheme)}},
		{name: "replace needs no source", json: `{"ignition":{"config":{"replace":{"compression":"gzip"}}}}`},
		{name: "replace bad source", json: `{"ignition":{"config":{"replace":{"source":"ftp://a"}}}}`,
			want: []entry{E("$.ignition.config.replace.source", msgURLScheme)}},
		{name: "ca ok", json: `{"ignition":{"security":{"tls":{"certificateAuthorities":[{"source":"data:,pem"}]}}}}`},
		{name: "ca no source", json: `{"ignition":{"security":{"tls":{"certificateAuthorities":[{}]}}}}`,
			want: []entry{E(ca, msgSourceRequired)}},
		{name: "ca no source 3.0", version: "3.0.0", json: `{"ignition":{"security":{"tls":{"certificateAuthorities":[{"source":""}]}}}}`},
		{name: "ca bad source", json: `{"ignition":{"security":{"tls":{"certificateAuthorities":[{"source":"/ca.pem"}]}}}}`,
			want: []entry{E(ca, msgURLScheme), E(ca+".source", msgURLScheme)}},
		{name: "ca bad source 3.0", version: "3.0.0", json: `{"ignition":{"security":{"tls":{"certificateAuthorities":[{"source":"/ca.pem"}]}}}}`,
			want: []entry{E(ca+".source", msgURLScheme)}},
	})
}

func TestProxy(t *testing.T) {
	at := "$.ignition.proxy."
	proxy := func(p string) string { return `{"ignition":{"proxy":` + p + `}}` }
	runCases(t, []ruleCase{
		{name: "ok", json: proxy(`{"httpProxy":"http://p:3128","httpsProxy":"https://p:3128","noProxy":["a","b"]}`)},
		{name: "https via http proxy", json: proxy(`{"httpsProxy":"http://p:3128"}`), want: []entry{W(at+"httpsProxy", msgProxyPlaintext)}},
		{name: "http via https proxy", json: proxy(`{"httpProxy":"https://p:3128"}`)},
		{name: "bad scheme", json: proxy(`{"httpProxy":"socks5://p"}`), want: []entry{E(at+"httpProxy", msgProxyScheme)}},
		{name: "empty", json: proxy(`{"httpProxy":"","httpsProxy":""}`), want: []entry{E(at+"httpProxy", msgProxyScheme), E(at+"httpsProxy", msgProxyScheme)}},
		{name: "unparsable", json: proxy(`{"httpsProxy":"http://[::1"}`), want: []entry{E(at+"httpsProxy", msgURLParse)}},
		{name: "duplicate noProxy", json: proxy(`{"noProxy":["a","b","a"]}`), want: []entry{E(at+"noProxy.2", msgDuplicate)}},
	})
}
