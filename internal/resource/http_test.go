package resource

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/version"
)

// corePKI is a certificate authority made for the tests, and two leaves it
// signed: one for the loopback addresses, one for the name secure.invalid.
type corePKI struct {
	caPEM    []byte
	ipLeaf   tls.Certificate
	nameLeaf tls.Certificate
}

var corePKIOnce = sync.OnceValues(func() (*corePKI, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ignition-go test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leaf := func(serial int64, ips []net.IP, names []string) (tls.Certificate, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "ignition-go test server"},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses:  ips,
			DNSNames:     names,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, err
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
	}
	p := &corePKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	if p.ipLeaf, err = leaf(2, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, nil); err != nil {
		return nil, err
	}
	if p.nameLeaf, err = leaf(3, nil, []string{"secure.invalid"}); err != nil {
		return nil, err
	}
	return p, nil
})

func coreTestPKI(t *testing.T) *corePKI {
	t.Helper()
	p, err := corePKIOnce()
	if err != nil {
		t.Fatalf("making test certificates: %v", err)
	}
	return p
}

// coreTLSServer starts an https server on loopback presenting cert; the
// counter counts TLS handshakes begun.
func coreTLSServer(t *testing.T, cert tls.Certificate, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var handshakes atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			handshakes.Add(1)
			return nil, nil
		},
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &handshakes
}

func TestHeaders(t *testing.T) {
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		w.Write([]byte("ok"))
	})
	ctx := coreCtx(t)
	last := func() http.Header { s := log.all(); return s[len(s)-1].Header }

	f := coreFetcher(t, Options{})
	if _, err := f.FetchBytes(ctx, Request{URL: srv.URL}, 100); err != nil {
		t.Fatal(err)
	}
	h := last()
	if ua, want := h.Get("User-Agent"), "Ignition-Go/"+version.Raw; ua != want {
		t.Errorf("default User-Agent %q, want %q", ua, want)
	}
	if a := h.Get("Accept"); a != "" {
		t.Errorf("Accept %q sent though none was asked for", a)
	}
	if ae := h.Get("Accept-Encoding"); ae != "" {
		t.Errorf("Accept-Encoding %q sent: the body must arrive as stored", ae)
	}

	req := Request{
		URL:    srv.URL,
		Accept: "application/vnd.coreos.ignition+json;version=3.5.0",
		Headers: http.Header{
			"X-Custom":   {"one", "two"},
			"user-agent": {"my-agent/1.0"}, // not canonical, still overrides
		},
	}
	if _, err := f.FetchBytes(ctx, req, 100); err != nil {
		t.Fatal(err)
	}
	h = last()
	if got := h.Values("X-Custom"); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("X-Custom %q, want [one two]", got)
	}
	if got := h.Values("User-Agent"); len(got) != 1 || got[0] != "my-agent/1.0" {
		t.Errorf("User-Agent %q, want only the request's", got)
	}
	if got := h.Get("Accept"); got != req.Accept {
		t.Errorf("Accept %q, want %q", got, req.Accept)
	}
	if req.Headers.Get("User-Agent") != "" || len(req.Headers) != 2 {
		t.Errorf("the request's headers were modified: %v", req.Headers)
	}

	f = coreFetcher(t, Options{UserAgent: "custom-default/2"})
	if _, err := f.FetchBytes(ctx, Request{URL: srv.URL}, 100); err != nil {
		t.Fatal(err)
	}
	if ua := last().Get("User-Agent"); ua != "custom-default/2" {
		t.Errorf("User-Agent %q, want Options.UserAgent", ua)
	}
}

func TestRedirectHeaders(t *testing.T) {
	var logA, logB coreLog
	srvB := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		logB.add(r)
		w.Write([]byte("from B"))
	})
	srvA := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cross":
			http.Redirect(w, r, srvB.URL+"/landing", http.StatusFound)
		case "/same":
			http.Redirect(w, r, "/landing", http.StatusFound)
		case "/landing":
			logA.add(r)
			w.Write([]byte("from A"))
		default:
			http.NotFound(w, r)
		}
	})
	f := coreFetcher(t, Options{})
	req := Request{
		Accept:  "application/json",
		Headers: http.Header{"X-Secret": {"s3cr3t"}, "Authorization": {"Bearer tok"}},
	}

	req.URL = srvA.URL + "/same"
	got, err := f.FetchBytes(coreCtx(t), req, 100)
	if err != nil || string(got) != "from A" {
		t.Fatalf("same-host redirect: %q, %v", got, err)
	}
	h := logA.all()[0].Header
	if h.Get("X-Secret") != "s3cr3t" || h.Get("Authorization") != "Bearer tok" {
		t.Errorf("same-host redirect lost the custom headers: %v", h)
	}

	req.URL = srvA.URL + "/cross"
	got, err = f.FetchBytes(coreCtx(t), req, 100)
	if err != nil || string(got) != "from B" {
		t.Fatalf("cross-host redirect: %q, %v", got, err)
	}
	h = logB.all()[0].Header
	if v := h.Get("X-Secret"); v != "" {
		t.Errorf("X-Secret %q was sent to another host", v)
	}
	if v := h.Get("Authorization"); v != "" {
		t.Errorf("Authorization %q was sent to another host (another port)", v)
	}
	if v := h.Get("Accept"); v != "application/json" {
		t.Errorf("Accept %q after the redirect, want it kept", v)
	}
	if v := h.Get("User-Agent"); !strings.HasPrefix(v, "Ignition-Go/") {
		t.Errorf("User-Agent %q after the redirect", v)
	}

	// A User-Agent the config set is its own header: dropped for the other
	// host, which gets ours instead of Go's default.
	req.Headers.Set("User-Agent", "config-agent/1")
	if _, err := f.FetchBytes(coreCtx(t), req, 100); err != nil {
		t.Fatal(err)
	}
	if v := logB.all()[1].Header.Get("User-Agent"); !strings.HasPrefix(v, "Ignition-Go/") {
		t.Errorf("User-Agent %q after a cross-host redirect, want ours", v)
	}
}

func TestHTTPS(t *testing.T) {
	pki := coreTestPKI(t)
	data := coreBytes(50_000, 20)
	srv, handshakes := coreTLSServer(t, pki.ipLeaf, func(w http.ResponseWriter, r *http.Request) { w.Write(data) })

	t.Run("untrusted certificate is final", func(t *testing.T) {
		f := coreFetcher(t, Options{})
		before := handshakes.Load()
		start := time.Now()
		_, err := f.FetchBytes(coreCtx(t), Request{URL: srv.URL + "/x"}, 1<<20)
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Fatalf("got %v, want a certificate verification error", err)
		}
		if n := handshakes.Load() - before; n != 1 {
			t.Errorf("%d handshakes, want 1: waiting will not make the certificate trusted", n)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %v", el)
		}
	})

	t.Run("trusted with the CA", func(t *testing.T) {
		f := coreFetcher(t, Options{CAs: [][]byte{pki.caPEM}})
		got, err := f.FetchBytes(coreCtx(t), Request{URL: srv.URL + "/x", Hash: coreSHA512(data)}, 1<<20)
		if err != nil {
			t.Fatalf("FetchBytes: %v", err)
		}
		if string(got) != string(data) {
			t.Errorf("got %d bytes, want %d", len(got), len(data))
		}
	})

	t.Run("malformed CA", func(t *testing.T) {
		bad := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
		for _, ca := range [][]byte{[]byte("not PEM at all"), bad, {}} {
			if _, err := New(Options{CAs: [][]byte{pki.caPEM, ca}}); err == nil {
				t.Errorf("New accepted CA %q", ca)
			} else if !strings.Contains(err.Error(), "certificate authority 1") {
				t.Errorf("error %q does not say which CA is bad", err)
			}
		}
	})
}

func TestErrorsNeverShowURLSecrets(t *testing.T) {
	pki := coreTestPKI(t)
	srv, _ := coreTLSServer(t, pki.ipLeaf, func(w http.ResponseWriter, r *http.Request) {})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()

	f := coreFetcher(t, Options{Total: 100 * time.Millisecond})
	for _, u := range []string{
		// Final: untrusted certificate.
		strings.Replace(srv.URL, "https://", "https://alice:pw-SECRET@", 1) + "/cfg?sig=SECRET&v=1",
		// Retried until the total runs out: connection refused.
		"http://alice:pw-SECRET@" + refused + "/cfg?X-Amz-Signature=SECRET",
	} {
		_, err := f.FetchBytes(coreCtx(t), Request{URL: u, Path: "ignition.config.replace"}, 100)
		if err == nil {
			t.Fatalf("%s: fetch succeeded", Redact(u))
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("error shows a secret of the URL: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "ignition.config.replace: fetching "+Redact(u)+": ") {
			t.Errorf("error %q does not start with the path and redacted URL", err)
		}
	}
}

func TestHTTPProxy(t *testing.T) {
	data := coreBytes(20_000, 21)
	var log coreLog
	proxy := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		if r.URL.Host != "example.invalid" || r.URL.Path != "/file" {
			http.Error(w, "unexpected request", http.StatusBadGateway)
			return
		}
		w.Write(data) // the proxy answers itself; nothing resolves the name
	})
	f := coreFetcher(t, Options{Proxy: types.Proxy{HTTPProxy: &proxy.URL}})
	req := Request{URL: "http://example.invalid/file", Hash: coreSHA256(data), Headers: http.Header{"X-Token": {"t"}}}
	got, err := f.FetchBytes(coreCtx(t), req, 1<<20)
	if err != nil {
		t.Fatalf("FetchBytes through the proxy: %v", err)
	}
	if string(got) != string(data) {
		t.Errorf("got %d bytes, want %d", len(got), len(data))
	}
	seen := log.all()
	if len(seen) != 1 {
		t.Fatalf("proxy saw %d requests, want 1", len(seen))
	}
	if s := seen[0]; s.Method != http.MethodGet || s.RequestURI != "http://example.invalid/file" || s.Header.Get("X-Token") != "t" {
		t.Errorf("proxy saw %s %s with X-Token %q; want an absolute-URI GET with the headers", s.Method, s.RequestURI, s.Header.Get("X-Token"))
	}
}

func TestHTTPSProxyConnect(t *testing.T) {
	pki := coreTestPKI(t)
	data := coreBytes(40_000, 22)
	var backendLog coreLog
	backend, _ := coreTLSServer(t, pki.nameLeaf, func(w http.ResponseWriter, r *http.Request) {
		backendLog.add(r)
		w.Write(data)
	})

	var (
		connects coreLog
		mu       sync.Mutex
		conns    []net.Conn
		pipes    sync.WaitGroup
	)
	proxy := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		connects.add(r)
		if r.Method != http.MethodConnect || r.Host != "secure.invalid:443" {
			http.Error(w, "only CONNECT to secure.invalid:443", http.StatusForbidden)
			return
		}
		up, err := net.Dial("tcp", backend.Listener.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		down, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			t.Errorf("hijacking: %v", err)
			return
		}
		mu.Lock()
		conns = append(conns, up, down)
		mu.Unlock()
		io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n")
		pipe := func(dst net.Conn, src io.Reader) {
			defer pipes.Done()
			io.Copy(dst, src)
			up.Close()
			down.Close()
		}
		pipes.Add(2)
		go pipe(up, buf.Reader)
		go pipe(down, up)
	})
	t.Cleanup(func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		pipes.Wait()
	})
	var plainLog coreLog
	plain := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		plainLog.add(r)
		http.Error(w, "wrong proxy", http.StatusBadGateway)
	})

	f := coreFetcher(t, Options{
		Proxy: types.Proxy{HTTPProxy: &plain.URL, HTTPSProxy: &proxy.URL},
		CAs:   [][]byte{pki.caPEM},
	})
	got, err := f.FetchBytes(coreCtx(t), Request{URL: "https://secure.invalid/file", Hash: coreSHA512(data)}, 1<<20)
	if err != nil {
		t.Fatalf("FetchBytes through the CONNECT proxy: %v", err)
	}
	if string(got) != string(data) {
		t.Errorf("got %d bytes, want %d", len(got), len(data))
	}
	if seen := connects.all(); len(seen) != 1 || seen[0].Method != http.MethodConnect {
		t.Errorf("proxy saw %v, want one CONNECT", seen)
	}
	if seen := backendLog.all(); len(seen) != 1 || seen[0].Host != "secure.invalid" {
		t.Errorf("server behind the tunnel saw %v, want one request for secure.invalid", seen)
	}
	if n := plainLog.count(); n != 0 {
		t.Errorf("the http proxy was used %d times for https", n)
	}
}

func TestNoProxy(t *testing.T) {
	httpProxy, httpsProxy := "http://proxy.invalid:3128", "http://sproxy.invalid:3129"
	cases := []struct {
		noProxy []string
		url     string
		want    string // proxy URL, or "" for direct
	}{
		{nil, "http://example.com/", httpProxy},
		{nil, "https://example.com/", httpsProxy},
		{[]string{"10.1.2.3"}, "http://10.1.2.3/", ""},
		{[]string{"10.1.2.3"}, "https://10.1.2.3:8443/", ""},
		{[]string{"10.1.2.3"}, "http://10.1.2.4/", httpProxy},
		{[]string{"10.0.0.0/8"}, "http://10.200.3.4/", ""},
		{[]string{"10.0.0.0/8"}, "https://11.0.0.1/", httpsProxy},
		{[]string{"fd00::/8"}, "http://[fd12::1]/", ""},
		{[]string{"fd00::/8"}, "http://[fe80::1]/", httpProxy},
		{[]string{"example.com"}, "http://example.com/", ""},
		{[]string{"example.com"}, "https://deep.sub.example.com/", ""},
		{[]string{"example.com"}, "http://notexample.com/", httpProxy},
		{[]string{"example.com"}, "http://example.com.evil.test/", httpProxy},
		{[]string{".example.org"}, "http://www.example.org/", ""},
		{[]string{".example.org"}, "http://example.org/", httpProxy},
		{[]string{"*"}, "http://anything.test/", ""},
		{[]string{"*"}, "https://10.9.8.7/", ""},
		{[]string{"example.net:8080"}, "http://example.net:8080/", ""},
		{[]string{"example.net:8080"}, "http://example.net/", httpProxy},
		{[]string{"example.net:8080"}, "https://example.net/", httpsProxy},
		{[]string{"10.1.2.3:443"}, "https://10.1.2.3/", ""},
		{[]string{"10.1.2.3:443"}, "http://10.1.2.3/", httpProxy},
		{[]string{"other.test", " example.com "}, "http://a.example.com/", ""},
	}
	for _, c := range cases {
		f, err := New(Options{Proxy: types.Proxy{HTTPProxy: &httpProxy, HTTPSProxy: &httpsProxy, NoProxy: c.noProxy}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := http.NewRequest(http.MethodGet, c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		u, err := coreTransport(f).Proxy(r)
		if err != nil {
			t.Errorf("noProxy %q, %s: %v", c.noProxy, c.url, err)
			continue
		}
		got := ""
		if u != nil {
			got = u.String()
		}
		if got != c.want {
			t.Errorf("noProxy %q, %s: proxy %q, want %q", c.noProxy, c.url, got, c.want)
		}
	}
}
