package applehv

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/vsock"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
)

const cfg = `{"ignition": {"version": "3.4.0"}}`

func hostEnv() providers.Host {
	return providers.Host{Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }}
}

// answer is one scripted response: a dial failure, or a status and body.
type answer struct {
	dialErr error
	status  int
	body    []byte
}

// pipeDialer serves HTTP over net.Pipe, one scripted answer a connection.
type pipeDialer struct {
	t       *testing.T
	mu      sync.Mutex
	answers []answer
	reqs    []*http.Request
	wg      sync.WaitGroup
}

func (d *pipeDialer) String() string { return "the test pipe" }

func (d *pipeDialer) DialContext(context.Context) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.answers) == 0 {
		return nil, errors.New("no more answers")
	}
	a := d.answers[0]
	d.answers = d.answers[1:]
	if a.dialErr != nil {
		return nil, a.dialErr
	}
	client, server := net.Pipe()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer server.Close()
		req, err := http.ReadRequest(bufio.NewReader(server))
		if err != nil {
			d.t.Errorf("reading the request: %v", err)
			return
		}
		d.mu.Lock()
		d.reqs = append(d.reqs, req)
		d.mu.Unlock()
		resp := &http.Response{
			StatusCode:    a.status,
			ProtoMajor:    1,
			ProtoMinor:    1,
			ContentLength: int64(len(a.body)),
			Body:          io.NopCloser(bytes.NewReader(a.body)),
			Header:        http.Header{},
		}
		resp.Write(server)
	}()
	return client, nil
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestFetch(t *testing.T) {
	refused := errors.New("connect: connection reset by peer")
	for _, tc := range []struct {
		name    string
		answers []answer
		tries   int
		err     string
		none    bool
	}{
		{"config", []answer{{status: 200, body: []byte(cfg)}}, 1, "", false},
		{"gzip config", []answer{{status: 200, body: gz(cfg)}}, 1, "", false},
		{"host not listening yet", []answer{{dialErr: refused}, {dialErr: refused}, {status: 200, body: []byte(cfg)}}, 3, "", false},
		{"5xx then config", []answer{{status: 503}, {status: 200, body: []byte(cfg)}}, 2, "", false},
		{"404", []answer{{status: 404}}, 1, "", true},
		{"empty body", []answer{{status: 200}}, 1, "", true},
		{"403", []answer{{status: 403}}, 1, "403 Forbidden", false},
		{"never listening", []answer{{dialErr: refused}, {dialErr: refused}, {dialErr: refused}, {dialErr: refused}, {dialErr: refused}, {dialErr: refused}}, 6, "giving up after 6 attempts", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &pipeDialer{t: t, answers: tc.answers}
			got, err := fetchWith(context.Background(), hostEnv(), d, time.Millisecond)
			d.wg.Wait()
			switch {
			case tc.none:
				if !errors.Is(err, providers.ErrNoConfig) {
					t.Fatalf("err = %v, want ErrNoConfig", err)
				}
			case tc.err != "":
				if err == nil || errors.Is(err, providers.ErrNoConfig) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "the test pipe") {
					t.Fatalf("err = %v, want %q naming the dialer", err, tc.err)
				}
			default:
				if err != nil || string(got) != cfg {
					t.Fatalf("fetch = %q, %v", got, err)
				}
			}
			if used := len(tc.answers) - len(d.answers); used != tc.tries {
				t.Errorf("%d attempts, want %d", used, tc.tries)
			}
			for _, r := range d.reqs {
				if r.Method != "GET" || r.URL.Path != "/" || !strings.HasPrefix(r.Header.Get("Accept"), "application/vnd.coreos.ignition+json") {
					t.Errorf("request %s %s Accept %q", r.Method, r.URL, r.Header.Get("Accept"))
				}
			}
		})
	}
}

func TestContextEndsRetries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var answers []answer
	for range attempts {
		answers = append(answers, answer{dialErr: errors.New("refused")})
	}
	d := &pipeDialer{t: t, answers: answers}
	start := time.Now()
	_, err := fetchWith(ctx, hostEnv(), d, time.Second)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

// TestRealVsock serves the config on a real vsock listener and fetches it
// through the production dialer, over the local loopback context ID.
func TestRealVsock(t *testing.T) {
	l, err := vsock.ListenContextID(vsock.Local, 0, nil)
	if err != nil {
		t.Skipf("no vsock loopback here: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, cfg)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	port := l.Addr().(*vsock.Addr).Port
	d := vsockDialer{cid: vsock.Local, port: port}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := fetchWith(ctx, hostEnv(), d, 10*time.Millisecond)
	if err != nil || string(got) != cfg {
		t.Fatalf("fetch over %s = %q, %v", d, got, err)
	}
}
