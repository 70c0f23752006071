package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// clevisGuest is what a guest needs to bind and unlock LUKS volumes with
// Clevis: its bash scripts (all of /usr/bin/clevis*, which source each
// other through PATH) and the programs they run; pwmake, which makes
// the key of the slot Clevis adds, needs the cracklib dictionary.
var clevisGuest = Machine{
	Tools:   append([]string{"jose", "curl", "pwmake", "bash"}, luksGuest.Tools...),
	Extra:   []string{"/usr/bin/clevis*", "/etc/security/pwquality.conf", "/var/cache/cracklib"},
	Modules: luksGuest.Modules,
}

// tpm2Guest adds what Clevis's tpm2 pin runs: tpm2-tools (one binary,
// linked under each name) and the transport library they dlopen.
var tpm2Guest = Machine{
	Tools: []string{"tpm2_createprimary", "tpm2_create", "tpm2_load", "tpm2_unseal",
		"tpm2_flushcontext", "tpm2_pcrread", "tpm2_createpolicy"},
	Extra: []string{"/usr/lib/*/libtss2-tcti-device.so*"},
}

// tangServer is a Tang server on the host's 127.0.0.1, which the guest
// reaches as 10.0.2.2: a Go listener that hands each connection to a
// tangd of its own, as socket activation does.
type tangServer struct {
	port  int
	keys  string
	thp   string // the signing key's thumbprint
	adv   string // the advertisement, as tangd serves it
	conns atomic.Int32
}

// guestURL is the server's URL as the guest sees it.
func (ts *tangServer) guestURL() string { return fmt.Sprintf("http://10.0.2.2:%d", ts.port) }

// startTang makes fresh keys and serves them until the test ends.
func startTang(t *testing.T) *tangServer {
	t.Helper()
	const tangd, keygen = "/usr/libexec/tangd", "/usr/libexec/tangd-keygen"
	for _, p := range []string{tangd, keygen} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("no Tang server on the host (Debian package tang): %v", err)
		}
	}
	if _, err := exec.LookPath("jose"); err != nil {
		t.Skipf("no jose on the host: %v", err)
	}
	ts := &tangServer{keys: filepath.Join(t.TempDir(), "tang")}
	if err := os.Mkdir(ts.keys, 0o700); err != nil {
		t.Fatal(err)
	}
	hostOutput(t, keygen, ts.keys)
	files, _ := filepath.Glob(filepath.Join(ts.keys, "*.jwk"))
	for _, f := range files {
		if alg := strings.TrimSpace(hostOutput(t, "jose", "fmt", "-j", f, "-g", "alg", "-u-")); alg == "ES512" {
			ts.thp = strings.TrimSpace(hostOutput(t, "jose", "jwk", "thp", "-i", f))
		}
	}
	if ts.thp == "" {
		t.Fatalf("tangd-keygen made no ES512 signing key: %v", files)
	}
	// The advertisement, straight from tangd.
	c := exec.Command(tangd, ts.keys)
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

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.port = l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		cancel() // kills a tangd still running
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return // closed
			}
			ts.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ts.serve(ctx, t, conn, tangd)
			}()
		}
	}()
	return ts
}

// serve runs tangd on one connection, the socket as its stdin and stdout.
func (ts *tangServer) serve(ctx context.Context, t *testing.T, conn net.Conn, tangd string) {
	f, err := conn.(*net.TCPConn).File()
	conn.Close() // f is a duplicate
	if err != nil {
		t.Logf("tang: %v", err)
		return
	}
	defer f.Close()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tangd, ts.keys)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, &stderr
	if err := cmd.Run(); err != nil && !errors.Is(ctx.Err(), context.Canceled) {
		t.Logf("tangd: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
}

func TestDisksClevis(t *testing.T) {
	ignitionBinary(t) // skips under -short; builds once
	// Tang with a thumbprint only: fetch-offline hands over to fetch (the
	// network is needed), the binding fetches the advertisement, the
	// key formatted with stays out of the target, and crypttab says the
	// volume is unlocked over the network.
	t.Run("tang over the network", func(t *testing.T) {
		ts := startTang(t)
		m := clevisGuest
		m.Net = true
		p := &provision{
			disks:   []Disk{{Name: "crypt", SizeMiB: 48}},
			machine: m,
			storage: storage{
				Luks: []obj{{"name": "tangvol", "device": "/dev/vdb", "options": fastPBKDF,
					"clevis": obj{"tang": []obj{{"url": ts.guestURL(), "thumbprint": ts.thp}}}}},
				Filesystems: []obj{{"device": "/dev/mapper/tangvol", "format": "ext4", "label": "tangdata"}},
			},
			check: fmt.Sprintf(`
				[ -e /run/ignition/neednet ]
				clevis luks list -d /dev/vdb | tee /tmp/list
				grep -F '"url":"%s"' /tmp/list
				uuid=$(cryptsetup luksUUID /dev/vdb)
				grep -x "tangvol UUID=$uuid none luks,_netdev" /sysroot/etc/crypttab
				[ ! -e /sysroot/etc/luks/tangvol ]
				# closed, Clevis opens it again through the Tang server
				cryptsetup close tangvol
				clevis luks unlock -d /dev/vdb -n again
				[ "$(blkid -c /dev/null -s LABEL -o value /dev/mapper/again)" = tangdata ]
				cryptsetup close again
			`, ts.guestURL()),
		}
		res := p.run(t)
		checkRoot(t, res)
		if !strings.Contains(luksDump(t, res.Disks[1]), ": clevis") {
			t.Errorf("luksDump shows no clevis token")
		}
		// One for the advertisement at bind time, one (at least) to unlock.
		if n := ts.conns.Load(); n < 2 {
			t.Errorf("the Tang server saw %d connections, want 2 or more", n)
		}
		if got := rootFile(t, res, "/etc/crypttab"); !strings.HasSuffix(got, " none luks,_netdev\n") {
			t.Errorf("/etc/crypttab on the root disk: %q", got)
		}
	})

	// Tang with the advertisement in the config (3.4.0+): bound without
	// the network, which is down during the stages; then brought up, the
	// volume unlocks through the server.
	t.Run("tang with an advertisement, offline", func(t *testing.T) {
		ts := startTang(t)
		m := clevisGuest
		m.Net = true
		p := &provision{
			version: "3.4.0",
			disks:   []Disk{{Name: "crypt", SizeMiB: 48}},
			machine: m,
			storage: storage{
				Luks: []obj{{"name": "offline", "device": "/dev/vdb", "options": fastPBKDF,
					"clevis": obj{"tang": []obj{{"url": ts.guestURL(), "thumbprint": ts.thp, "advertisement": ts.adv}}}}},
			},
			before: fmt.Sprintf(`
				ip link set eth0 down
				! wget -q -T 2 -O /dev/null %s/adv
			`, ts.guestURL()),
			check: fmt.Sprintf(`
				[ ! -e /run/ignition/neednet ]
				clevis luks list -d /dev/vdb | grep -F '"url":"%s"'
				uuid=$(cryptsetup luksUUID /dev/vdb)
				grep -x "offline UUID=$uuid none luks,_netdev" /sysroot/etc/crypttab
				cryptsetup close offline
				ip link set eth0 up
				ip route add default via 10.0.2.2 2>/dev/null || true
				clevis luks unlock -d /dev/vdb -n again
				cryptsetup close again
			`, ts.guestURL()),
		}
		res := p.run(t)
		checkRoot(t, res)
		// The unlock, and nothing before it.
		if n := ts.conns.Load(); n != 1 {
			t.Errorf("the Tang server saw %d connections, want 1 (the unlock; binding is offline)", n)
		}
	})

	// The TPM: bound to the guest's (emulated) TPM 2.0, unlocked by it.
	t.Run("tpm2", func(t *testing.T) {
		if _, err := exec.LookPath("tpm2_createprimary"); err != nil {
			t.Skipf("no tpm2-tools on the host: %v", err)
		}
		m := merge(clevisGuest, tpm2Guest)
		m.TPM = true
		p := &provision{
			disks:   []Disk{{Name: "crypt", SizeMiB: 48}},
			machine: m,
			storage: storage{
				Luks: []obj{{"name": "tpmvol", "device": "/dev/vdb", "options": fastPBKDF,
					"clevis": obj{"tpm2": true}}},
				Filesystems: []obj{{"device": "/dev/mapper/tpmvol", "format": "ext4", "label": "tpmdata"}},
			},
			check: `
				[ -c /dev/tpmrm0 ]
				clevis luks list -d /dev/vdb | grep -F tpm2
				uuid=$(cryptsetup luksUUID /dev/vdb)
				grep -x "tpmvol UUID=$uuid none luks" /sysroot/etc/crypttab
				[ ! -e /sysroot/etc/luks/tpmvol ]
				cryptsetup close tpmvol
				clevis luks unlock -d /dev/vdb -n again
				[ "$(blkid -c /dev/null -s LABEL -o value /dev/mapper/again)" = tpmdata ]
				cryptsetup close again
			`,
		}
		res := p.run(t)
		if !strings.Contains(luksDump(t, res.Disks[1]), ": clevis") {
			t.Errorf("luksDump shows no clevis token")
		}
	})
}
