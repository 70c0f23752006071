package resource

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A request's method reaches the server (metadata token endpoints want
// PUT), GET is the default, and a refusal carries its status code.
func TestMethodAndStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, r.Method)
	}))
	t.Cleanup(srv.Close)
	f, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, m := range []string{"", http.MethodPut} {
		got, err := f.FetchBytes(ctx, Request{URL: srv.URL + "/x", Method: m}, 100)
		want := m
		if want == "" {
			want = http.MethodGet
		}
		if err != nil || string(got) != want {
			t.Errorf("method %q: got %q, %v; want %q", m, got, err, want)
		}
	}
	_, err = f.FetchBytes(ctx, Request{URL: srv.URL + "/missing"}, 100)
	if HTTPStatus(err) != http.StatusNotFound {
		t.Fatalf("HTTPStatus(%v) = %d, want 404", err, HTTPStatus(err))
	}
	if want := "fetching " + srv.URL + "/missing: server returned 404 Not Found"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if HTTPStatus(fmt.Errorf("x")) != 0 {
		t.Error("HTTPStatus of a non-HTTP error is not 0")
	}
	a, b := Request{URL: "http://h/t", Method: http.MethodPut}, Request{URL: "http://h/t"}
	if a.key() == b.key() {
		t.Error("a PUT and a GET of one URL share a key")
	}
}
