package validation

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/coreos/vcontext/path"
	"github.com/vincent-petithory/dataurl"

	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/types"
)

// hashHexLength is the length of each known hash function's hex digest.
// Which functions a version accepts is the spec's business.
var hashHexLength = map[string]int{
	"sha256": 64,
	"sha512": 128,
}

func (v *validator) ignition(ign *types.Ignition) {
	at := root("ignition")
	v.ignitionConfig(at.Append("config"), &ign.Config)
	v.proxy(at.Append("proxy"), &ign.Proxy)
	v.tls(at.Append("security", "tls"), &ign.Security.TLS)
	// Timeouts are not checked (negative values are accepted), and the
	// version was checked before the config was decoded.
}

func (v *validator) ignitionConfig(at path.ContextPath, c *types.IgnitionConfig) {
	// A merged config without a source cannot be fetched. The URL error is
	// reported at the entry as well as at its source (by resource below),
	// as the reference implementation does.
	if v.s.Has(spec.SourceRequired) {
		for i := range c.Merge {
			v.err(at.Append("merge", i), v.requiredSource(c.Merge[i].Source))
		}
	}
	for i := range c.Merge {
		v.resource(at.Append("merge", i), &c.Merge[i])
	}
	v.resource(at.Append("replace"), &c.Replace)
}

func (v *validator) tls(at path.ContextPath, t *types.TLS) {
	if v.s.Has(spec.SourceRequired) {
		for i := range t.CertificateAuthorities {
			v.err(at.Append("certificateAuthorities", i), v.requiredSource(t.CertificateAuthorities[i].Source))
		}
	}
	for i := range t.CertificateAuthorities {
		v.resource(at.Append("certificateAuthorities", i), &t.CertificateAuthorities[i])
	}
}

// requiredSource checks a source that must be present and valid.
func (v *validator) requiredSource(src *string) error {
	if isEmpty(src) {
		return errSourceRequired
	}
	return checkURL(v.s, *src)
}

// resource checks anything fetched by URL. An empty source is valid where
// the source is optional: it means empty contents.
func (v *validator) resource(at path.ContextPath, res *types.Resource) {
	if c := res.Compression; c != nil && *c != "" && *c != "gzip" {
		v.err(at.Append("compression"), errCompression)
	}
	// "" counts as a source here: it is an (empty) data source, which can
	// be verified.
	if res.Verification.Hash != nil && res.Source == nil {
		v.err(at.Append("verification", "hash"), errSourceForHash)
	}
	if !isEmpty(res.Source) {
		v.err(at.Append("source"), checkURL(v.s, *res.Source))
	}
	if len(res.HTTPHeaders) > 0 {
		v.err(at.Append("httpHeaders"), headersAllowed(res.Source))
	}
	for i := range res.HTTPHeaders {
		h := &res.HTTPHeaders[i]
		hat := at.Append("httpHeaders", i)
		if h.Name == "" {
			v.err(hat.Append("name"), errHeaderNameEmpty)
		}
		// An absent value is fine: in a merged config it deletes the
		// parent's header of that name. An empty one is a mistake.
		if h.Value != nil && *h.Value == "" {
			v.err(hat.Append("value"), errHeaderValue)
		}
	}
	if h := res.Verification.Hash; h != nil {
		v.err(at.Append("verification", "hash"), v.checkHash(*h))
	}
}

// headersAllowed reports whether a resource with this source may carry
// HTTP headers: only http(s) fetches send them.
func headersAllowed(src *string) error {
	if isEmpty(src) {
		return errURLUnparsable
	}
	u, err := url.Parse(*src)
	if err != nil {
		return errURLUnparsable
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errHeadersForScheme
	}
	return nil
}

// checkHash checks a "<function>-<hex digest>" verification hash. Only the
// digest length is checked, not that it is hex: a bad digest fails the
// fetch anyway, with a clearer message.
func (v *validator) checkHash(h string) error {
	fn, sum, ok := strings.Cut(h, "-")
	if !ok {
		return errHashMalformed
	}
	n, known := hashHexLength[fn]
	if !known || !v.s.HasHash(fn) {
		return errHashFunction
	}
	if len(sum) != n {
		return errHashLength
	}
	return nil
}

// checkURL checks a resource source under spec s.
func checkURL(s *spec.Spec, raw string) error {
	if validDataURL(s, raw) {
		return nil
	}
	return checkURLExact(s, raw)
}

// validDataURL reports whether raw is a data URL that checkURLExact would
// accept, without net/url: data URLs are most of a config's bytes, and
// net/url would scan them all only to find the scheme. It says yes only
// when sure; anything it is unsure of (or that is invalid) takes the exact
// path, which words the error.
//
// net/url rejects control bytes and bad escapes after a "#"; the data part
// check already refuses both (except "\n" in base64), so only the header
// and newlines need a look here. TestDataURLsMatchDecoder and FuzzDataURL
// hold the two paths equal.
func validDataURL(s *spec.Spec, raw string) bool {
	if len(raw) < 5 || !strings.EqualFold(raw[:5], "data:") || !s.HasScheme("data") {
		return false
	}
	header, data, ok := strings.Cut(raw, ",")
	if !ok || strings.IndexByte(data, '\n') >= 0 {
		return false
	}
	for i := 0; i < len(header); i++ {
		// A quote may hide a comma, making the header longer than this.
		if c := header[i]; c < 0x20 || c == 0x7f || c == '#' || c == '"' {
			return false
		}
	}
	return checkDataURL(raw) == nil
}

// checkURLExact checks a resource source the straightforward way.
func checkURLExact(s *spec.Spec, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errURLUnparsable
	}
	// net/url lower-cases the scheme, and a relative reference has none,
	// which no version allows.
	if !s.HasScheme(u.Scheme) {
		return errURLScheme
	}
	switch u.Scheme {
	case "s3":
		return checkS3VersionID(u)
	case "arn":
		return checkS3ARN(u)
	case "data":
		return checkDataURL(raw)
	}
	return nil
}

// The data URL decoder's messages for a bad data part, which checkDataURL
// must reproduce.
var (
	errDataChar       = errors.New("invalid data character")
	errEscapeTooShort = errors.New("rfc2396: unexpected end of unescape sequence")
	// The decoder prints the "%", not the offending character.
	errEscapeNotHex = errors.New("rfc2396: invalid char 0x25 in unescape sequence")
)

// base64Bytes and urlBytes are the bytes the decoder accepts in the data
// part: base64 (with newlines, so long data can be wrapped), or printable
// ASCII except RFC 2396's delimiters and "unwise" characters. Bytes of
// multi-byte UTF-8 sequences are all >= 0x80 and in neither set, so testing
// bytes is testing runes.
var base64Bytes, urlBytes = func() (b, u [256]bool) {
	for c := range 256 {
		b[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("+/=\n", rune(c))
		u[c] = 0x20 <= c && c < 0x7f && !strings.ContainsRune(" <>#\"{}|\\^[]`", rune(c))
	}
	return b, u
}()

// checkDataURL returns the error dataurl.DecodeString returns for raw (its
// messages are part of our output), without its cost on large payloads:
// the decoder runs a goroutine and a channel send per token, and most of a
// config's bytes are in data URLs.
//
// The decoder checks the header (up to the first comma) alone. If that
// succeeds, the comma was the one that starts the data (the decoder cannot
// end successfully anywhere else), so the decoder would have read the
// header exactly so in raw too; the data part, whose rules are simple, is
// then checked here as the decoder would, in the same order. A bad header
// is an error path, so raw goes to the decoder whole for its exact message.
// TestDataURLsMatchDecoder and FuzzDataURL hold us to the decoder.
func checkDataURL(raw string) error {
	header, data, ok := strings.Cut(raw, ",")
	if !ok {
		_, err := dataurl.DecodeString(raw)
		return err
	}
	du, err := dataurl.DecodeString(header + ",")
	if err != nil {
		_, err := dataurl.DecodeString(raw)
		return err
	}
	if du.Encoding == dataurl.EncodingBase64 {
		for i := 0; i < len(data); i++ {
			if !base64Bytes[data[i]] {
				return errDataChar
			}
		}
		_, err := base64.StdEncoding.DecodeString(data)
		return err
	}
	for i := 0; i < len(data); i++ {
		if !urlBytes[data[i]] {
			return errDataChar
		}
	}
	return checkPercentEscapes(data)
}

// checkPercentEscapes checks that every "%" starts a two-hex-digit escape.
func checkPercentEscapes(data string) error {
	isHex := func(c byte) bool {
		return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
	}
	for {
		i := strings.IndexByte(data, '%')
		if i < 0 {
			return nil
		}
		data = data[i+1:]
		for j := range 2 {
			if j >= len(data) {
				return errEscapeTooShort
			}
			if !isHex(data[j]) {
				return errEscapeNotHex
			}
		}
		data = data[2:]
	}
}

// checkS3VersionID rejects "?versionId=": an empty version would silently
// fetch the latest version instead of the one the user meant to pin.
func checkS3VersionID(u *url.URL) error {
	if ids, ok := u.Query()["versionId"]; ok && ids[0] == "" {
		return errS3VersionID
	}
	return nil
}

// checkS3ARN accepts the two ARN forms Ignition can fetch from:
// arn:<partition>:s3:::<bucket>/<key> and
// arn:<partition>:s3:<region>:<account>:accesspoint/<name>/object/<key>.
func checkS3ARN(u *url.URL) error {
	full := "arn:" + u.Opaque
	if !arn.IsARN(full) {
		return errS3ARN
	}
	a, err := arn.Parse(full)
	if err != nil {
		return err
	}
	if a.Service != "s3" {
		return errS3ARN
	}
	// A bucket ARN needs an object key after it; an access point needs a
	// name and an object path.
	need := 2
	if strings.HasPrefix(a.Resource, "accesspoint/") {
		need = 3
	}
	if strings.Count(full, "/")+1 < need {
		return errS3ARN
	}
	return checkS3VersionID(u)
}

func (v *validator) proxy(at path.ContextPath, p *types.Proxy) {
	if p.HTTPProxy != nil {
		_, err := proxyURL(*p.HTTPProxy)
		v.err(at.Append("httpProxy"), err)
	}
	if p.HTTPSProxy != nil {
		u, err := proxyURL(*p.HTTPSProxy)
		v.err(at.Append("httpsProxy"), err)
		if err == nil && u.Scheme == "http" {
			// Allowed (the CONNECT tunnel is still end-to-end TLS), but
			// the proxy credentials and target hosts travel in clear.
			v.warn(at.Append("httpsProxy"), errPlaintextProxy)
		}
	}
	// noProxy entries are passed to Go's proxy matching unchecked.
}

func proxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errURLUnparsable
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errProxyScheme
	}
	return u, nil
}
