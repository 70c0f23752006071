// Package providers_test runs the ignition binary's fetch stage against
// fake metadata services, one network namespace per scenario, so that a
// provider talks to the very addresses it uses in production
// (169.254.169.254:80, 169.254.42.42:80, a name resolved through the
// namespace's own /etc/hosts) and nothing leaves the machine.
//
// How a fake service gets into the namespace: the test process opens the
// listening socket inside it (a goroutine locks its OS thread, setns(2)s
// the thread into the namespace, listens, and setns(2)s back), then serves
// from that socket like any other. A socket stays in the namespace it was
// made in, so the server runs in the test process, where handlers are
// plain Go values whose state (hit counts, what headers came) the test
// reads afterwards; no helper process, no IPC. The ignition binary is run
// with `ip netns exec`, which also bind-mounts /etc/netns/NS/hosts over
// /etc/hosts for it. It does so in a new mount namespace copied from the
// host's, which holds on to whatever other tests have mounted at that
// moment: `make unit` runs this package after the others for that reason.
//
// Needs root (namespaces) and ip(8); without them the tests skip, saying
// why. Every namespace, and the /etc/netns entry it may have, is deleted
// when its test ends, pass or fail.
//
// Adding an HTTP provider: describe its service with a platformSpec (where
// it listens, its fake, how it encodes user data and says "none", a
// request the fake must refuse) and run standardScenarios(t, spec) through
// runScenarios in a test of its own: config served, gzip, no user data,
// server errors then the config, garbage (line and column), fetch-offline
// (needs the network) and unreachable (bounded by -fetch-timeout). Add
// platform-particular cases as more scenario values. A scenario may
// also run more services (an S3 beside the IMDS) and bind-mount
// directories for the run only (DHCP leases, over the host's).
package providers_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// scenario is one run of `ignition -stage fetch` against fake services.
type scenario struct {
	name     string
	platform string // -platform
	// addrs are the host:port the fake listens on inside the namespace;
	// each host is an IP put on the namespace's loopback. With a nil
	// handler the addresses are still there but nothing listens.
	addrs []string
	// tlsNames, when set, has the fake serve TLS with a certificate for
	// these names, from a CA the binary trusts via SSL_CERT_FILE.
	tlsNames []string
	// hosts are /etc/hosts entries in the namespace: name → IP.
	hosts map[string]string
	// binds are directories bind-mounted for the run only: host path →
	// the directory mounted over it (e.g. a DHCP lease directory). The
	// mounts are made in the mount namespace `ip netns exec` gives the
	// run, a slave of the host's, so nothing shows outside it.
	binds   map[string]string
	handler http.Handler
	// services are more fake services, each with its own addresses and
	// TLS names (an S3 beside the metadata service).
	services []service
	// fetchTimeout is -fetch-timeout; default 10 s.
	fetchTimeout time.Duration
	// stage is -stage: "fetch" (the default) or "fetch-offline".
	stage string

	// Exactly one of wantFiles, wantFailure and wantNeedNet is set.
	// wantFiles are the storage.files paths the config cache must hold,
	// in order.
	wantFiles []string
	// wantNeedNet: the stage succeeds, writing the neednet flag and no
	// cache (fetch-offline with a provider that needs the network).
	wantNeedNet bool
	// wantFailure must match the "Ignition failed" line; no cache may be
	// written.
	wantFailure *regexp.Regexp
	// wantLog are substrings the output must have.
	wantLog []string
	// maxTime bounds the run, when set.
	maxTime time.Duration
	// check, when set, makes more assertions after the run (on the fake).
	check func(t *testing.T)
}

// service is a fake service of a scenario besides its main one.
type service struct {
	addrs    []string
	tlsNames []string // as scenario.tlsNames
	handler  http.Handler
}

// baseFile is the file the base config of every scenario adds, so that
// "no user config" shows as a cache with the base config only.
const baseFile = "/etc/from-base-config"

var harness struct {
	skip     string
	ignition string
	buildErr error
	nsCount  atomic.Int32
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	switch {
	case runtime.GOOS != "linux":
		harness.skip = "metadata scenarios need Linux network namespaces"
	case os.Geteuid() != 0:
		harness.skip = "metadata scenarios need root (network namespaces, addresses, setns); run the tests as root"
	default:
		if _, err := exec.LookPath("ip"); err != nil {
			harness.skip = "metadata scenarios need ip(8) (Debian package iproute2)"
		}
	}
	if harness.skip != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ignition-providers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	harness.ignition, harness.buildErr = build(dir)
	return m.Run()
}

// build builds the ignition binary, statically, into dir.
func build(dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out := filepath.Join(dir, "ignition")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/ignition")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ignition: %v\n%s", err, b)
	}
	return out, nil
}

func needHarness(t *testing.T) {
	t.Helper()
	if harness.skip != "" {
		t.Skip(harness.skip)
	}
	if harness.buildErr != nil {
		t.Fatal(harness.buildErr)
	}
}

// runScenarios runs each scenario as a parallel subtest.
func runScenarios(t *testing.T, scs []scenario) {
	for _, sc := range scs {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runScenario(t, sc)
		})
	}
}

func runScenario(t *testing.T, sc scenario) {
	needHarness(t)
	ns := newNetns(t, sc)
	tmp := t.TempDir()

	env := []string{"PATH=" + os.Getenv("PATH")}
	services := sc.services
	if sc.handler != nil {
		services = append([]service{{addrs: sc.addrs, tlsNames: sc.tlsNames, handler: sc.handler}}, services...)
	}
	var cas []byte
	for _, svc := range services {
		for _, addr := range svc.addrs {
			cas = append(cas, serveIn(t, ns, addr, svc.handler, svc.tlsNames)...)
		}
	}
	if len(cas) > 0 {
		caFile := filepath.Join(tmp, "ca.pem")
		writeFile(t, caFile, string(cas))
		env = append(env, "SSL_CERT_FILE="+caFile)
	}

	// Empty config dirs but for one base config, a kernel command line
	// without ignition.config.url.
	sys := filepath.Join(tmp, "sys")
	writeFile(t, filepath.Join(sys, "base.d", "00-base.ign"),
		`{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "`+baseFile+`", "contents": {"source": "data:,base"}}]}}`)
	for _, d := range []string{"local", "runtime"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmdline := filepath.Join(tmp, "cmdline")
	writeFile(t, cmdline, "BOOT_IMAGE=/vmlinuz root=LABEL=root ignition.platform.id="+sc.platform+"\n")
	cache := filepath.Join(tmp, "run", "ignition.json")
	env = append(env,
		"IGNITION_SYSTEM_CONFIG_DIR="+sys,
		"IGNITION_SYSTEM_LOCAL_CONFIG_DIR="+filepath.Join(tmp, "local"),
		"IGNITION_SYSTEM_RUNTIME_CONFIG_DIR="+filepath.Join(tmp, "runtime"),
		"IGNITION_KERNEL_CMDLINE_PATH="+cmdline,
	)

	neednet := filepath.Join(tmp, "run", "ignition", "neednet")

	timeout := sc.fetchTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	stage := sc.stage
	if stage == "" {
		stage = "fetch"
	}
	argv := []string{"ip", "netns", "exec", ns}
	if len(sc.binds) > 0 {
		// sh mounts each "source target" pair before "--", then becomes
		// ignition in the same mount namespace.
		argv = append(argv, "sh", "-c",
			`while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 1; shift 2; done; shift; exec "$@"`, "sh")
		for target, source := range sc.binds {
			argv = append(argv, source, target)
		}
		argv = append(argv, "--")
	}
	argv = append(argv, harness.ignition,
		"-platform", sc.platform, "-stage", stage,
		"-config-cache", cache,
		"-state-file", filepath.Join(tmp, "run", "ignition", "state"),
		"-neednet", neednet,
		"-fetch-timeout", timeout.String(), "-log-to-stdout")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	t.Logf("ignition -platform %s -stage %s (%v):\n%s", sc.platform, stage, took.Round(time.Millisecond), out)
	if sc.maxTime > 0 && took > sc.maxTime {
		t.Errorf("took %v, more than %v", took, sc.maxTime)
	}
	for _, s := range sc.wantLog {
		if !strings.Contains(string(out), s) {
			t.Errorf("output lacks %q", s)
		}
	}

	switch {
	case sc.wantNeedNet:
		if err != nil {
			t.Fatalf("ignition: %v", err)
		}
		if _, err := os.Stat(neednet); err != nil {
			t.Errorf("neednet flag: %v", err)
		}
		if _, err := os.Stat(cache); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("fetch-offline wrote the cache %s (%v)", cache, err)
		}
	case sc.wantFailure != nil:
		if err == nil {
			t.Fatalf("ignition succeeded, want a failure matching %q", sc.wantFailure)
		}
		line := failureLine(string(out))
		if !sc.wantFailure.MatchString(line) {
			t.Errorf("failure line %q does not match %q", line, sc.wantFailure)
		}
		if _, err := os.Stat(cache); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a failed fetch left the cache %s (%v)", cache, err)
		}
	default:
		if err != nil {
			t.Fatalf("ignition: %v", err)
		}
		if got := cachedFiles(t, cache); strings.Join(got, " ") != strings.Join(sc.wantFiles, " ") {
			t.Errorf("cache has files %q, want %q", got, sc.wantFiles)
		}
	}
	if sc.check != nil {
		sc.check(t)
	}
}

// failureLine returns the "Ignition failed" line of the output, or "".
func failureLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Ignition failed") {
			return l
		}
	}
	return ""
}

// cachedFiles returns the storage.files paths of the config cache.
func cachedFiles(t *testing.T, cache string) []string {
	t.Helper()
	raw, err := os.ReadFile(cache)
	if err != nil {
		t.Fatalf("reading the cache: %v", err)
	}
	var cfg struct {
		Storage struct {
			Files []struct {
				Path string `json:"path"`
			} `json:"files"`
		} `json:"storage"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("cache %s: %v\n%s", cache, err, raw)
	}
	var paths []string
	for _, f := range cfg.Storage.Files {
		paths = append(paths, f.Path)
	}
	return paths
}

// newNetns makes a network namespace with loopback up, the scenario's IPs
// on it and its hosts file, deleted when t ends.
func newNetns(t *testing.T, sc scenario) string {
	t.Helper()
	ns := fmt.Sprintf("ign-prov-%d-%d", os.Getpid(), harness.nsCount.Add(1))
	ip(t, "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v\n%s", ns, err, out)
		}
	})
	ip(t, "-n", ns, "link", "set", "lo", "up")
	added := map[string]bool{}
	addrs := sc.addrs
	for _, svc := range sc.services {
		addrs = append(addrs, svc.addrs...)
	}
	for _, addr := range addrs {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		if !added[host] {
			added[host] = true
			ip(t, "-n", ns, "addr", "add", host+"/32", "dev", "lo")
		}
	}
	if len(sc.hosts) > 0 {
		dir := filepath.Join("/etc/netns", ns)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			os.RemoveAll(dir)
			os.Remove("/etc/netns") // only if no one else uses it
		})
		var b strings.Builder
		b.WriteString("127.0.0.1 localhost\n")
		for name, addr := range sc.hosts {
			fmt.Fprintf(&b, "%s %s\n", addr, name)
		}
		writeFile(t, filepath.Join(dir, "hosts"), b.String())
	}
	return ns
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// listenIn opens a TCP listener on addr inside network namespace ns.
func listenIn(ns, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread is switched to ns and back; nothing else may run on
		// it meanwhile.
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns into %s: %w", ns, err)}
			return
		}
		ln, lerr := net.Listen("tcp", addr)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// The thread stays locked, so it ends with this goroutine
			// instead of running other goroutines in the wrong namespace.
			if ln != nil {
				ln.Close()
			}
			ch <- result{err: fmt.Errorf("setns back from %s: %w", ns, err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{ln: ln, err: lerr}
	}()
	r := <-ch
	return r.ln, r.err
}

// serveIn serves h on addr inside ns until t ends; with tlsNames, over TLS
// with a certificate for those names, whose CA it returns (PEM).
func serveIn(t *testing.T, ns, addr string, h http.Handler, tlsNames []string) (caPEM []byte) {
	t.Helper()
	ln, err := listenIn(ns, addr)
	if err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, ns, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	if len(tlsNames) > 0 {
		var cert tls.Certificate
		cert, caPEM = selfSigned(t, tlsNames)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return caPEM
}

// selfSigned makes a certificate for names that is its own CA.
func selfSigned(t *testing.T, names []string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func writeFile(t *testing.T, path, contents string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(contents), 0o644); err != nil {
		t.Fatal(err)
	}
}
