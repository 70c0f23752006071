package resource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func coreMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestFetchAllDeduplicates(t *testing.T) {
	data := coreBytes(70_000, 30)
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		w.Write(data)
	})
	f := coreFetcher(t, Options{})
	dir := t.TempDir()
	req := Request{URL: srv.URL + "/shared", Hash: coreSHA512(data), Headers: http.Header{"X-A": {"1"}}}
	modes := []os.FileMode{0o600, 0o755, 0o640}
	var jobs []Job
	for i, m := range modes {
		r := req
		r.Path = fmt.Sprintf("storage.files.%d.contents", i)
		// Same headers, built anew: the map is not what makes them equal.
		r.Headers = http.Header{"X-A": {"1"}}
		jobs = append(jobs, Job{Request: r, Dest: filepath.Join(dir, fmt.Sprint(i)), FileOptions: FileOptions{Mode: m}})
	}
	if err := f.FetchAll(coreCtx(t), jobs); err != nil {
		t.Fatalf("FetchAll: %v", err)
	}
	if n := log.count(); n != 1 {
		t.Errorf("%d requests for three identical jobs, want 1", n)
	}
	for i, j := range jobs {
		if got := coreReadFile(t, j.Dest); !bytes.Equal(got, data) {
			t.Errorf("job %d: %d bytes, want %d", i, len(got), len(data))
		}
		if m := coreMode(t, j.Dest); m != modes[i] {
			t.Errorf("job %d: mode %v, want %v", i, m, modes[i])
		}
	}
	if names := coreDir(t, dir); !slices.Equal(names, []string{"0", "1", "2"}) {
		t.Errorf("directory holds %v", names)
	}

	// Different hashes (or headers) are different requests.
	jobs[1].Hash = coreSHA256(data)
	jobs[2].Headers = http.Header{"X-A": {"2"}}
	if err := f.FetchAll(coreCtx(t), jobs); err != nil {
		t.Fatalf("FetchAll: %v", err)
	}
	if n := log.count(); n != 1+3 {
		t.Errorf("%d more requests for three different jobs, want 3", n-1)
	}
}

func TestFetchAllRunsConcurrently(t *testing.T) {
	const n = 4
	var inFlight atomic.Int32
	ready := make(chan struct{})
	var once sync.Once
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		if inFlight.Add(1) == n {
			once.Do(func() { close(ready) })
		}
		defer inFlight.Add(-1)
		select {
		case <-ready:
			w.Write([]byte(r.URL.Path))
		case <-time.After(5 * time.Second):
			// Not all in flight together: fail rather than hang.
			http.Error(w, "requests were not concurrent", http.StatusNotFound)
		}
	})
	f := coreFetcher(t, Options{})
	dir := t.TempDir()
	var jobs []Job
	for i := range n {
		jobs = append(jobs, Job{Request: Request{URL: fmt.Sprintf("%s/f%d", srv.URL, i)}, Dest: filepath.Join(dir, fmt.Sprint(i))})
	}
	if err := f.FetchAll(coreCtx(t), jobs); err != nil {
		t.Fatalf("FetchAll: %v", err)
	}
	for i, j := range jobs {
		if got := string(coreReadFile(t, j.Dest)); got != fmt.Sprintf("/f%d", i) {
			t.Errorf("job %d got %q", i, got)
		}
	}
}

func TestFetchAllConcurrencyLimit(t *testing.T) {
	var inFlight, most atomic.Int32
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if cur <= m || most.CompareAndSwap(m, cur) {
				break
			}
		}
		// Hold the request until a second one is in flight (or a while),
		// so that more than the limit would be seen if allowed.
		deadline := time.Now().Add(300 * time.Millisecond)
		for inFlight.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		w.Write([]byte("x"))
	})
	f := coreFetcher(t, Options{Concurrency: 2})
	dir := t.TempDir()
	var jobs []Job
	for i := range 6 {
		jobs = append(jobs, Job{Request: Request{URL: fmt.Sprintf("%s/f%d", srv.URL, i)}, Dest: filepath.Join(dir, fmt.Sprint(i))})
	}
	if err := f.FetchAll(coreCtx(t), jobs); err != nil {
		t.Fatalf("FetchAll: %v", err)
	}
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d requests in flight, want 2 (the limit, and reached)", m)
	}
	if names := coreDir(t, dir); len(names) != 6 {
		t.Errorf("directory holds %v", names)
	}
}

func TestFetchAllFailureIsPerJob(t *testing.T) {
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("content of " + r.URL.Path))
	})
	f := coreFetcher(t, Options{})
	dir := t.TempDir()
	failed := filepath.Join(dir, "failed")
	coreWriteFile(t, failed, []byte("previous\n"), 0o600)
	missingURL := srv.URL + "/missing?token=SECRET"
	jobs := []Job{
		{Request: Request{URL: srv.URL + "/a", Path: "storage.files.0.contents"}, Dest: filepath.Join(dir, "a")},
		{Request: Request{URL: missingURL, Path: "storage.files.1.contents"}, Dest: failed, FileOptions: FileOptions{Mode: 0o755}},
		{Request: Request{URL: srv.URL + "/b", Path: "storage.files.2.contents"}, Dest: filepath.Join(dir, "b")},
	}
	err := f.FetchAll(coreCtx(t), jobs)
	if err == nil {
		t.Fatal("FetchAll succeeded with a missing resource")
	}
	var ferr *Error
	if !errors.As(err, &ferr) || ferr.Path != "storage.files.1.contents" || ferr.URL != Redact(missingURL) {
		t.Errorf("got %v, want an *Error for storage.files.1.contents at %s", err, Redact(missingURL))
	}
	msg := err.Error()
	if !strings.Contains(msg, "storage.files.1.contents: fetching "+Redact(missingURL)+": ") || strings.Contains(msg, "SECRET") {
		t.Errorf("error %q should name the path and the redacted URL only", msg)
	}
	if strings.Contains(msg, "storage.files.0") || strings.Contains(msg, "storage.files.2") {
		t.Errorf("error %q blames jobs that succeeded", msg)
	}
	for _, name := range []string{"a", "b"} {
		if got := string(coreReadFile(t, filepath.Join(dir, name))); got != "content of /"+name {
			t.Errorf("%s holds %q", name, got)
		}
	}
	if got := string(coreReadFile(t, failed)); got != "previous\n" || coreMode(t, failed) != 0o600 {
		t.Errorf("failed destination changed: %q %v", got, coreMode(t, failed))
	}
	if names := coreDir(t, dir); !slices.Equal(names, []string{"a", "b", "failed"}) {
		t.Errorf("directory holds %v, want no temp files", names)
	}
	if n := log.count(); n != 3 {
		t.Errorf("%d requests, want 3 (the 404 is not retried)", n)
	}
}

func TestFetchAllSharedFetchFailureFailsAll(t *testing.T) {
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	f := coreFetcher(t, Options{})
	dir := t.TempDir()
	var jobs []Job
	for i := range 3 {
		jobs = append(jobs, Job{Request: Request{URL: srv.URL + "/gone", Path: fmt.Sprintf("storage.files.%d.contents", i)}, Dest: filepath.Join(dir, fmt.Sprint(i))})
	}
	err := f.FetchAll(coreCtx(t), jobs)
	for i := range jobs {
		if p := fmt.Sprintf("storage.files.%d.contents", i); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("error %v does not report %s", err, p)
		}
	}
	if names := coreDir(t, dir); len(names) != 0 {
		t.Errorf("left %v behind", names)
	}
}

func TestFetchAllPrepare(t *testing.T) {
	data := []byte("prepared contents\n")
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) { w.Write(data) })
	f := coreFetcher(t, Options{})
	dir := t.TempDir()
	errChown := errors.New("chown refused")

	var mu sync.Mutex
	var checked []string
	// check runs as Prepare: the temp file is complete and verified, and
	// the destination not yet replaced.
	check := func(dest string) func(*os.File) error {
		return func(tmp *os.File) error {
			got, err := io.ReadAll(io.NewSectionReader(tmp, 0, 1<<20))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("Prepare for %s saw %q, %v", dest, got, err)
			}
			if filepath.Dir(tmp.Name()) != dir || tmp.Name() == dest {
				t.Errorf("Prepare for %s got %s, want a temp file beside it", dest, tmp.Name())
			}
			if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s exists before Prepare returned", dest)
			}
			mu.Lock()
			checked = append(checked, filepath.Base(dest))
			mu.Unlock()
			return nil
		}
	}
	fail := func(*os.File) error { return errChown }
	dest := func(name string) string { return filepath.Join(dir, name) }
	shared := srv.URL + "/shared"
	jobs := []Job{
		// A de-duplicated group whose first job fails to prepare: the
		// others were fetched fine and still land.
		{Request: Request{URL: shared, Path: "storage.files.0.contents"}, Dest: dest("g0"), FileOptions: FileOptions{Prepare: fail}},
		{Request: Request{URL: shared, Path: "storage.files.1.contents"}, Dest: dest("g1"), FileOptions: FileOptions{Prepare: check(dest("g1")), Mode: 0o755}},
		{Request: Request{URL: shared, Path: "storage.files.2.contents"}, Dest: dest("g2"), FileOptions: FileOptions{Prepare: fail}},
		// Lone jobs.
		{Request: Request{URL: srv.URL + "/one", Path: "storage.files.3.contents"}, Dest: dest("one"), FileOptions: FileOptions{Prepare: check(dest("one")), Mode: 0o600}},
		{Request: Request{URL: srv.URL + "/two", Path: "storage.files.4.contents"}, Dest: dest("two"), FileOptions: FileOptions{Prepare: fail}},
	}
	err := f.FetchAll(coreCtx(t), jobs)
	if !errors.Is(err, errChown) {
		t.Fatalf("got %v, want the Prepare error", err)
	}
	msg := err.Error()
	for _, name := range []string{"g0", "g2", "two"} {
		if !strings.Contains(msg, dest(name)) {
			t.Errorf("error %q does not name %s", msg, name)
		}
	}
	for _, p := range []string{"storage.files.1.", "storage.files.3."} {
		if strings.Contains(msg, p) {
			t.Errorf("error %q blames %s, which was written", msg, p)
		}
	}
	if names := coreDir(t, dir); !slices.Equal(names, []string{"g1", "one"}) {
		t.Errorf("directory holds %v, want only the prepared files", names)
	}
	slices.Sort(checked)
	if !slices.Equal(checked, []string{"g1", "one"}) {
		t.Errorf("Prepare ran for %v", checked)
	}
	for name, mode := range map[string]os.FileMode{"g1": 0o755, "one": 0o600} {
		if m := coreMode(t, dest(name)); m != mode {
			t.Errorf("%s: mode %v, want %v", name, m, mode)
		}
		if got := coreReadFile(t, dest(name)); !bytes.Equal(got, data) {
			t.Errorf("%s holds %q", name, got)
		}
	}
}

func TestFetchAllModes(t *testing.T) {
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.URL.Path)) })
	f := coreFetcher(t, Options{})
	dir := t.TempDir()
	modes := map[string]os.FileMode{"default": 0, "private": 0o600, "exec": 0o755, "group": 0o640, "readonly": 0o400}
	var jobs []Job
	for name, m := range modes {
		jobs = append(jobs, Job{Request: Request{URL: srv.URL + "/" + name}, Dest: filepath.Join(dir, name), FileOptions: FileOptions{Mode: m}})
	}
	if err := f.FetchAll(coreCtx(t), jobs); err != nil {
		t.Fatalf("FetchAll: %v", err)
	}
	for name, m := range modes {
		if m == 0 {
			m = 0o644
		}
		if got := coreMode(t, filepath.Join(dir, name)); got != m {
			t.Errorf("%s: mode %v, want %v", name, got, m)
		}
	}
}

func TestFetchAllCanceled(t *testing.T) {
	var log coreLog
	srv := coreServe(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		w.Write([]byte("x"))
	})
	f := coreFetcher(t, Options{})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(coreCtx(t))
	cancel()
	var jobs []Job
	for i := range 5 {
		jobs = append(jobs, Job{Request: Request{URL: fmt.Sprintf("%s/%d", srv.URL, i), Path: fmt.Sprintf("storage.files.%d.contents", i)}, Dest: filepath.Join(dir, fmt.Sprint(i))})
	}
	err := f.FetchAll(ctx, jobs)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	for i := range jobs {
		if !strings.Contains(fmt.Sprint(err), fmt.Sprintf("storage.files.%d.contents", i)) {
			t.Errorf("error does not report job %d", i)
		}
	}
	if names := coreDir(t, dir); len(names) != 0 {
		t.Errorf("left %v behind", names)
	}
}
