package disks

// Tests that run the real cryptsetup, blkid, wipefs and clevis on image
// files. This kernel has no device-mapper, so only opening a volume is
// stood in for (recorded, not run); everything written to the LUKS
// header is real and read back with the real tools.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/log"
)

// hostTools runs the real commands, except those that need
// device-mapper: "cryptsetup status" answers that nothing is open, and
// "cryptsetup luksOpen DEV NAME" (not --test-passphrase) is only
// recorded.
type hostTools struct {
	mu    sync.Mutex
	calls []string
}

func (h *hostTools) Run(ctx context.Context, argv []string) error {
	_, err := h.Output(ctx, argv)
	return err
}

func (h *hostTools) Output(ctx context.Context, argv []string) ([]byte, error) {
	h.mu.Lock()
	h.calls = append(h.calls, strings.Join(argv, " "))
	h.mu.Unlock()
	if argv[0] == "cryptsetup" && len(argv) > 1 {
		switch {
		case argv[1] == "status":
			return nil, fmt.Errorf("cryptsetup: %w", exitErr(4))
		case argv[1] == "luksOpen" && !slices.Contains(argv, "--test-passphrase"):
			return nil, nil
		}
	}
	return command.Exec{}.Output(ctx, argv)
}

func (h *hostTools) ran(prefix string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// needTools skips the test unless it runs as root with the named tools.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (cryptsetup and mdadm open the devices exclusively)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
}

// image is a new sparse image file of size bytes, removed after the
// test.
func image(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	return p
}

// realLuks runs createLuks for the volume "data" on img with the real
// tools, keys in keyDir, and returns the tools' record and the log.
func realLuks(t *testing.T, l types.Luks, img, keyDir string) (*hostTools, string, error) {
	t.Helper()
	l.Name = "data"
	l.Device = &img
	// A generated key gets the fast KDF from luksFormat itself; a key
	// file (a passphrase, as far as anyone knows) keeps cryptsetup's
	// default unless the options say otherwise, as here, to keep the
	// test fast.
	if l.Options == nil && l.KeyFile.Source != nil {
		l.Options = fastKDF
	}
	tools := &hostTools{}
	var logs bytes.Buffer
	s := &stage{
		cfg:     &types.Config{},
		e:       Env{KeyDir: keyDir, DeviceTimeout: time.Second},
		cmd:     tools,
		log:     log.NewWithSink(log.NewWriterSink(&logs)),
		devices: map[string]string{"/dev/mapper/data": "/dev/dm-0"},
	}
	err := s.createLuks(context.Background(), []luksJob{{entry: "storage.luks.0", luks: l, device: img}})
	return tools, logs.String(), err
}

// probe is blkid's low-level probe of a device, as KEY=value.
func probe(t *testing.T, dev string) map[string]string {
	t.Helper()
	out, err := exec.Command("blkid", "-p", "-o", "export", dev).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 2 {
			return map[string]string{}
		}
		t.Fatalf("blkid -p %s: %v", dev, err)
	}
	return parseKeyValues(out)
}

// opens says whether key opens the LUKS volume on dev.
func opens(dev, key string) bool {
	return exec.Command("cryptsetup", "luksOpen", "--test-passphrase", "--key-file", key, dev).Run() == nil
}

func TestLuksRealFormatAndReuse(t *testing.T) {
	needTools(t, "cryptsetup", "blkid", "wipefs")
	img := image(t, 32<<20)
	keys := filepath.Join(t.TempDir(), "keys")
	key := filepath.Join(keys, "data")
	const uuid = "5a4f6b1e-8c2d-4e3f-9a0b-1c2d3e4f5a6b"
	l := types.Luks{
		Label:      refOf("secret-data"),
		UUID:       refOf(uuid),
		Discard:    refOf(true),
		Options:    append([]string{"--cipher", "aes-xts-plain64", "--key-size", "256"}, fastKDF...),
		WipeVolume: refOf(false),
	}

	tools, logs, err := realLuks(t, l, img, keys)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	got := probe(t, img)
	want := map[string]string{"TYPE": "crypto_LUKS", "VERSION": "2", "LABEL": "secret-data", "UUID": uuid}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("blkid %s = %q, want %q", k, got[k], v)
		}
	}
	if err := exec.Command("cryptsetup", "isLuks", "--type", "luks2", img).Run(); err != nil {
		t.Errorf("cryptsetup isLuks --type luks2: %v", err)
	}
	dump, err := exec.Command("cryptsetup", "luksDump", img).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^\s*cipher:\s+aes-xts-plain64$`, `(?m)^\s*PBKDF:\s+pbkdf2$`, `(?m)^\s*Key:\s+256 bits$`} {
		if !regexp.MustCompile(re).Match(dump) {
			t.Errorf("luksDump lacks %s:\n%s", re, dump)
		}
	}
	if !opens(img, key) {
		t.Errorf("the kept key does not open the volume")
	}
	if open := tools.ran("cryptsetup luksOpen " + img); len(open) != 1 ||
		open[0] != "cryptsetup luksOpen "+img+" data --key-file "+key+" --allow-discards --persistent" {
		t.Errorf("open = %q", open)
	}
	vols, err := ReadLuksVolumes(keys)
	if err != nil || vols["data"].UUID != uuid {
		t.Errorf("record = %v, %v", vols, err)
	}
	generated, _ := os.ReadFile(key)
	if strings.Contains(logs, string(generated)) {
		t.Errorf("the key is in the log:\n%s", logs)
	}

	// A second run (the key generated earlier is still in the key dir)
	// keeps the volume.
	tools, logs, err = realLuks(t, l, img, keys)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, logs)
	}
	if f := tools.ran("cryptsetup luksFormat"); len(f) != 0 {
		t.Errorf("second run formatted again: %q", f)
	}
	if !strings.Contains(logs, "reusing the LUKS2 volume on "+img+" (UUID "+uuid+")") {
		t.Errorf("reuse not logged:\n%s", logs)
	}

	// Another label: refused, and the volume is left as it was.
	other := l
	other.Label = refOf("other")
	_, _, err = realLuks(t, other, img, keys)
	if want := `holds a LUKS2 volume labeled "secret-data", not "other"; set wipeVolume to replace it`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want …%s", err, want)
	}
	if got := probe(t, img); got["LABEL"] != "secret-data" || got["UUID"] != uuid {
		t.Errorf("refused volume changed: %v", got)
	}

	// With wipeVolume it is replaced: new label, new UUID (none given).
	other.WipeVolume = refOf(true)
	other.UUID = nil
	tools, logs, err = realLuks(t, other, img, keys)
	if err != nil {
		t.Fatalf("wipe: %v\n%s", err, logs)
	}
	got = probe(t, img)
	if got["LABEL"] != "other" || got["UUID"] == uuid || got["UUID"] == "" {
		t.Errorf("after wipeVolume: %v", got)
	}
	if w := tools.ran("wipefs -a " + img); len(w) != 1 {
		t.Errorf("wipefs ran %q", w)
	}
	if vols, _ := ReadLuksVolumes(keys); vols["data"].UUID != got["UUID"] {
		t.Errorf("record %v, volume UUID %s", vols, got["UUID"])
	}
}

func TestLuksRealKeyFile(t *testing.T) {
	needTools(t, "cryptsetup", "blkid")
	img := image(t, 32<<20)
	keys := filepath.Join(t.TempDir(), "keys")
	l := types.Luks{KeyFile: types.Resource{Source: refOf("data:,correct%20horse%20battery%20staple")}}
	_, logs, err := realLuks(t, l, img, keys)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	plain := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(plain, []byte("correct horse battery staple"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !opens(img, plain) {
		t.Errorf("the config's key file does not open the volume")
	}
	if strings.Contains(logs, "battery") {
		t.Errorf("the key is in the log:\n%s", logs)
	}

	// A new key dir, as on the next boot: the key file still opens the
	// volume, so it is kept; another key does not, so it is refused.
	if _, logs, err := realLuks(t, l, img, filepath.Join(t.TempDir(), "keys")); err != nil {
		t.Fatalf("reuse with the key file: %v\n%s", err, logs)
	}
	l.KeyFile.Source = refOf("data:,wrong")
	_, _, err = realLuks(t, l, img, filepath.Join(t.TempDir(), "keys"))
	if want := "holds a LUKS2 volume that the key file does not open"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want …%s", err, want)
	}
}

func TestLuksRealFilesystemInTheWay(t *testing.T) {
	needTools(t, "cryptsetup", "blkid", "wipefs", "mkfs.ext4")
	img := image(t, 32<<20)
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	keys := filepath.Join(t.TempDir(), "keys")
	_, _, err := realLuks(t, types.Luks{}, img, keys)
	if want := "storage.luks.0 (data): " + img + " holds a filesystem of type ext4, not a LUKS volume; set wipeVolume to replace it"; err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if got := probe(t, img)["TYPE"]; got != "ext4" {
		t.Errorf("refused device now holds %q", got)
	}
	if _, logs, err := realLuks(t, types.Luks{WipeVolume: refOf(true)}, img, keys); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	if got := probe(t, img); got["TYPE"] != "crypto_LUKS" {
		t.Errorf("after wipeVolume: %v", got)
	}
}

// tangServer is a real Tang server (tangd behind socat) with fresh keys.
type tangServer struct {
	url, thp, adv string
	keys          string
	port          int
	cmd           *exec.Cmd
}

// newTangServer makes the keys; start serves them.
func newTangServer(t *testing.T) *tangServer {
	t.Helper()
	needTools(t, "/usr/libexec/tangd", "/usr/libexec/tangd-keygen", "socat", "jose", "clevis")
	ts := &tangServer{keys: filepath.Join(t.TempDir(), "tang")}
	if err := os.Mkdir(ts.keys, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/libexec/tangd-keygen", ts.keys).CombinedOutput(); err != nil {
		t.Fatalf("tangd-keygen: %v: %s", err, out)
	}
	// The advertisement, as the server would send it.
	c := exec.Command("/usr/libexec/tangd", ts.keys)
	c.Stdin = strings.NewReader("GET /adv HTTP/1.1\r\nHost: tang\r\n\r\n")
	out, err := c.Output()
	if err != nil {
		t.Fatalf("tangd: %v", err)
	}
	_, body, ok := strings.Cut(string(out), "\r\n\r\n")
	if !ok || !strings.HasPrefix(body, "{") {
		t.Fatalf("tangd answered %q", out)
	}
	ts.adv = body
	// The signing key's thumbprint: the trust anchor a config gives.
	files, _ := filepath.Glob(filepath.Join(ts.keys, "*.jwk"))
	for _, f := range files {
		alg, _ := exec.Command("jose", "fmt", "-j", f, "-g", "alg", "-u-").Output()
		if strings.TrimSpace(string(alg)) == "ES512" {
			thp, err := exec.Command("jose", "jwk", "thp", "-i", f).Output()
			if err != nil {
				t.Fatal(err)
			}
			ts.thp = strings.TrimSpace(string(thp))
		}
	}
	if ts.thp == "" {
		t.Fatalf("no signing key among %v", files)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	ts.url = fmt.Sprintf("http://127.0.0.1:%d", ts.port)
	t.Cleanup(ts.stop)
	return ts
}

func (ts *tangServer) start(t *testing.T) {
	t.Helper()
	ts.cmd = exec.Command("socat", fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork", ts.port),
		"EXEC:/usr/libexec/tangd "+ts.keys)
	ts.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := ts.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ts.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("tang server did not start")
}

func (ts *tangServer) stop() {
	if ts.cmd != nil && ts.cmd.Process != nil {
		// socat and its forked tangd children: the group this test made.
		syscall.Kill(-ts.cmd.Process.Pid, syscall.SIGKILL)
		ts.cmd.Wait()
		ts.cmd = nil
	}
}

// clevisUnlocks says whether Clevis can recover a passphrase from one of
// the volume's bindings that opens it (clevis luks pass, then a test
// open with what it returns).
func clevisUnlocks(t *testing.T, img string) bool {
	t.Helper()
	list, err := exec.Command("clevis", "luks", "list", "-d", img).Output()
	if err != nil {
		t.Fatalf("clevis luks list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		slot, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		pass, err := exec.Command("clevis", "luks", "pass", "-d", img, "-s", slot).Output()
		if err != nil {
			continue
		}
		c := exec.Command("cryptsetup", "luksOpen", "--test-passphrase", "--key-file", "-", img)
		c.Stdin = bytes.NewReader(pass)
		if c.Run() == nil {
			return true
		}
	}
	return false
}

func TestLuksRealTang(t *testing.T) {
	ts := newTangServer(t)

	t.Run("advertisement: bound offline", func(t *testing.T) {
		img := image(t, 32<<20)
		keys := filepath.Join(t.TempDir(), "keys")
		l := types.Luks{Clevis: types.Clevis{Tang: []types.Tang{{URL: ts.url, Thumbprint: &ts.thp, Advertisement: &ts.adv}}}}
		// No server runs: the advertisement is all binding needs.
		_, logs, err := realLuks(t, l, img, keys)
		if err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
		list, _ := exec.Command("clevis", "luks", "list", "-d", img).Output()
		if !strings.Contains(string(list), `sss '{"t":1,"pins":{"tang":[{"url":"`+ts.url+`"}]}}'`) {
			t.Errorf("clevis luks list: %s", list)
		}
		ts.start(t)
		defer ts.stop()
		if !clevisUnlocks(t, img) {
			t.Errorf("the tang binding does not unlock the volume")
		}
	})

	t.Run("advertisement fetched", func(t *testing.T) {
		ts.start(t)
		defer ts.stop()
		img := image(t, 32<<20)
		l := types.Luks{Clevis: types.Clevis{Tang: []types.Tang{{URL: ts.url, Thumbprint: &ts.thp}}}}
		if _, logs, err := realLuks(t, l, img, filepath.Join(t.TempDir(), "keys")); err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
		if !clevisUnlocks(t, img) {
			t.Errorf("the tang binding does not unlock the volume")
		}
	})

	t.Run("wrong thumbprint", func(t *testing.T) {
		img := image(t, 32<<20)
		wrong := "not-" + ts.thp
		l := types.Luks{Clevis: types.Clevis{Tang: []types.Tang{{URL: ts.url, Thumbprint: &wrong, Advertisement: &ts.adv}}}}
		_, _, err := realLuks(t, l, img, filepath.Join(t.TempDir(), "keys"))
		if err == nil || !strings.Contains(err.Error(), "storage.luks.0 (data): clevis:") {
			t.Fatalf("err = %v, want clevis to refuse the advertisement", err)
		}
	})

	t.Run("custom tang config", func(t *testing.T) {
		img := image(t, 32<<20)
		cfg := fmt.Sprintf(`{"url":%q,"thp":%q,"adv":%s}`, ts.url, ts.thp, ts.adv)
		l := types.Luks{Clevis: types.Clevis{Custom: types.ClevisCustom{Pin: refOf("tang"), Config: &cfg, NeedsNetwork: refOf(true)}}}
		if _, logs, err := realLuks(t, l, img, filepath.Join(t.TempDir(), "keys")); err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
		ts.start(t)
		defer ts.stop()
		if !clevisUnlocks(t, img) {
			t.Errorf("the tang binding does not unlock the volume")
		}
	})
}

// startSwtpm runs a software TPM 2.0 for the test and points the TPM2
// tools (which clevis's tpm2 pin runs) at it.
func startSwtpm(t *testing.T) {
	t.Helper()
	needTools(t, "swtpm", "clevis", "tpm2_createprimary")
	// The swtpm TCTI finds the control channel on the port after the
	// TPM's.
	ports := freePortPair(t)
	c := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+t.TempDir(),
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", ports[0]),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", ports[1]),
		"--flags", "not-need-init,startup-clear")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Kill()
		c.Wait()
	})
	for range 100 {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0])); err == nil {
			conn.Close()
			t.Setenv("TPM2TOOLS_TCTI", fmt.Sprintf("swtpm:host=127.0.0.1,port=%d", ports[0]))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("swtpm did not start")
}

func TestLuksRealTpm2(t *testing.T) {
	startSwtpm(t)
	ts := newTangServer(t)

	t.Run("tpm2", func(t *testing.T) {
		img := image(t, 32<<20)
		l := types.Luks{Clevis: types.Clevis{Tpm2: refOf(true)}}
		if _, logs, err := realLuks(t, l, img, filepath.Join(t.TempDir(), "keys")); err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
		if !clevisUnlocks(t, img) {
			t.Errorf("the tpm2 binding does not unlock the volume")
		}
	})

	t.Run("tpm2 and tang, both needed", func(t *testing.T) {
		img := image(t, 32<<20)
		l := types.Luks{Clevis: types.Clevis{
			Tpm2:      refOf(true),
			Tang:      []types.Tang{{URL: ts.url, Thumbprint: &ts.thp, Advertisement: &ts.adv}},
			Threshold: refOf(2),
		}}
		if _, logs, err := realLuks(t, l, img, filepath.Join(t.TempDir(), "keys")); err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
		list, _ := exec.Command("clevis", "luks", "list", "-d", img).Output()
		if !strings.Contains(string(list), `"t":2`) {
			t.Errorf("clevis luks list: %s", list)
		}
		// The tpm2 share alone is not enough …
		if clevisUnlocks(t, img) {
			t.Errorf("unlocked without the tang server")
		}
		// … with the tang server it is.
		ts.start(t)
		defer ts.stop()
		if !clevisUnlocks(t, img) {
			t.Errorf("the binding does not unlock the volume")
		}
	})

	t.Run("custom tpm2", func(t *testing.T) {
		img := image(t, 32<<20)
		l := types.Luks{Clevis: types.Clevis{Custom: types.ClevisCustom{Pin: refOf("tpm2"), Config: refOf(`{"pcr_bank":"sha256"}`)}}}
		if _, logs, err := realLuks(t, l, img, filepath.Join(t.TempDir(), "keys")); err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
		list, _ := exec.Command("clevis", "luks", "list", "-d", img).Output()
		if !strings.Contains(string(list), "tpm2") {
			t.Errorf("clevis luks list: %s", list)
		}
		if !clevisUnlocks(t, img) {
			t.Errorf("the tpm2 binding does not unlock the volume")
		}
	})
}

// freePortPair returns two consecutive free local TCP ports.
func freePortPair(t *testing.T) []int {
	t.Helper()
	for range 50 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		l1.Close()
		if err == nil {
			l2.Close()
			return []int{p, p + 1}
		}
	}
	t.Fatal("no two consecutive free ports")
	return nil
}

// TestLuksRealGeneratedKeyKDF: the key slot of a generated key uses a
// fast PBKDF2 (a random 256-bit key needs no slow derivation), so the
// volume opens in milliseconds at every boot; the slot is real and opens.
func TestLuksRealGeneratedKeyKDF(t *testing.T) {
	needTools(t, "cryptsetup", "blkid")
	img := image(t, 32<<20)
	keys := filepath.Join(t.TempDir(), "keys")
	start := time.Now()
	_, logs, err := realLuks(t, types.Luks{}, img, keys)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	t.Logf("formatted in %v", time.Since(start))
	dump, err := exec.Command("cryptsetup", "luksDump", img).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`PBKDF:\s+pbkdf2`).Match(dump) || !regexp.MustCompile(`Iterations:\s+1000\n`).Match(dump) {
		t.Errorf("key slot is not PBKDF2 with 1000 iterations:\n%s", dump)
	}
	if !opens(img, filepath.Join(keys, "data")) {
		t.Error("the generated key does not open the volume")
	}
}
