package resource

// The request fields the platform providers use: Method, RetryStatus,
// PrivilegedPort, and StatusError.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func quickFetcher(t *testing.T) *Fetcher {
	t.Helper()
	f, err := New(Options{RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRequestMethod(t *testing.T) {
	var methods []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods = append(methods, r.Method)
		// Ranges and a validator would let a GET resume; a PUT never.
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("ETag", `"x"`)
		w.Write([]byte("token"))
	}))
	defer srv.Close()
	f := quickFetcher(t)
	ctx := context.Background()

	for _, m := range []string{"", "GET", "PUT"} {
		got, err := f.FetchBytes(ctx, Request{URL: srv.URL, Method: m}, 100)
		if err != nil || string(got) != "token" {
			t.Fatalf("method %q: %q, %v", m, got, err)
		}
	}
	if strings.Join(methods, " ") != "GET GET PUT" {
		t.Errorf("server saw %v, want GET GET PUT", methods)
	}
	_, err := f.FetchBytes(ctx, Request{URL: srv.URL, Method: "DELETE"}, 100)
	if err == nil || !strings.Contains(err.Error(), `unsupported HTTP method "DELETE"`) {
		t.Errorf("DELETE: %v", err)
	}
	if len(methods) != 3 {
		t.Errorf("DELETE reached the server")
	}
	a, b := Request{URL: "u"}, Request{URL: "u", Method: "PUT"}
	if a.key() == b.key() {
		t.Error("a GET and a PUT of one URL share a key")
	}
}

func TestRequestRetryStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		retry   []int
		wantErr bool
		hits    int32
	}{
		{"410 is final by default", nil, true, 1},
		{"410 retried when the request says so", []int{404, 410}, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) <= 2 {
					http.Error(w, "gone", http.StatusGone)
					return
				}
				w.Write([]byte("ok"))
			}))
			defer srv.Close()
			_, err := quickFetcher(t).FetchBytes(context.Background(), Request{URL: srv.URL, RetryStatus: tc.retry}, 100)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if HTTPStatus(err) != http.StatusGone || !strings.Contains(err.Error(), "server returned 410 Gone") {
					t.Errorf("err = %v (status %d), want a 410 StatusError", err, HTTPStatus(err))
				}
			}
			if hits.Load() != tc.hits {
				t.Errorf("%d requests, want %d", hits.Load(), tc.hits)
			}
		})
	}
}

// TestStatusAfterRetries: a status that was retried until time ran out
// is still there to be seen in the final error.
func TestStatusAfterRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "throttled", http.StatusTooManyRequests)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := quickFetcher(t).FetchBytes(ctx, Request{URL: srv.URL, RetryStatus: []int{429}}, 100)
	if HTTPStatus(err) != http.StatusTooManyRequests || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a 429 that gave up at the deadline", err)
	}
	if HTTPStatus(errors.New("other")) != 0 {
		t.Error("HTTPStatus of a plain error is not 0")
	}
}

func TestPrivilegedPort(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("binding a port below 1024 needs root")
	}
	var ports []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, p, _ := net.SplitHostPort(r.RemoteAddr)
		port, _ := strconv.Atoi(p)
		ports = append(ports, port)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	f := quickFetcher(t)
	for _, privileged := range []bool{true, true, false} {
		if _, err := f.FetchBytes(context.Background(), Request{URL: srv.URL, PrivilegedPort: privileged}, 100); err != nil {
			t.Fatal(err)
		}
	}
	if len(ports) != 3 || ports[0] >= 1024 || ports[1] >= 1024 || ports[2] < 1024 {
		t.Errorf("source ports %v, want two below 1024, then an ordinary one", ports)
	}
}

// TestPrivilegedPortBusy: with one privileged port free, the dialer finds
// it whatever port it starts from. So as not to take the host's ports,
// the test re-runs itself in a network namespace of its own.
func TestPrivilegedPortBusy(t *testing.T) {
	if os.Getenv("RESOURCE_TEST_PORTS_NETNS") == "" {
		if os.Geteuid() != 0 {
			t.Skip("binding ports below 1024 needs root")
		}
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Skip("unshare not installed")
		}
		if _, err := exec.LookPath("ip"); err != nil {
			t.Skip("ip(8) not installed")
		}
		cmd := exec.Command(unshare, "--net", "sh", "-c", `ip link set lo up && exec "$0" -test.run='^TestPrivilegedPortBusy$' -test.v`, os.Args[0])
		cmd.Env = append(os.Environ(), "RESOURCE_TEST_PORTS_NETNS=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestPrivilegedPortBusy") {
			t.Fatalf("in a network namespace: %v\n%s", err, out)
		}
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// Occupy the local ports 1..1023 but one, for connections to ln
	// (a bound but unconnected socket makes the port busy for us).
	free := 1 + int(time.Now().UnixNano()%1023)
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for p := 1; p <= 1023; p++ {
		if p == free {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // already in use on this host: just as busy
		}
		held = append(held, l)
	}
	conn, err := dialPrivileged(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("port %d was free: %v", free, err)
	}
	defer conn.Close()
	_, p, _ := net.SplitHostPort(conn.LocalAddr().String())
	if p != strconv.Itoa(free) {
		t.Errorf("connected from port %s, want %d, the one left free", p, free)
	}
}
