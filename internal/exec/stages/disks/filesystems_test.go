package disks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/log"
)

// fsExit is a fake command's exit status, seen by fsExitCode as a real
// *exec.ExitError would be.
type fsExit int

func (e fsExit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e fsExit) ExitCode() int { return int(e) }

// fsFake stands in for blkid, wipefs and the mkfs tools: it keeps what
// each device holds as blkid -p -o udev would print it, and records
// every command and how many mkfs ran at once.
type fsFake struct {
	mu      sync.Mutex
	devices map[string]string // device → blkid udev output; missing = empty
	calls   [][]string
	running int
	max     int
	// mkfs, when set, runs inside every mkfs call (after it counts as
	// running); its error fails the call.
	mkfs func(argv []string) error
	// ignore lists mkfs flags the fake tool silently drops.
	ignore map[string]bool
}

func newFSFake() *fsFake { return &fsFake{devices: map[string]string{}} }

func (f *fsFake) record(argv []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append([]string(nil), argv...))
}

func (f *fsFake) Output(_ context.Context, argv []string) ([]byte, error) {
	f.record(argv)
	if argv[0] != "blkid" {
		return nil, fmt.Errorf("fake: unexpected %v", argv)
	}
	f.mu.Lock()
	out := f.devices[argv[len(argv)-1]]
	f.mu.Unlock()
	switch {
	case out == "":
		return nil, fsExit(2)
	case strings.Contains(out, "ID_FS_AMBIVALENT="):
		return []byte(out), fsExit(8)
	}
	return []byte(out), nil
}

func (f *fsFake) Run(_ context.Context, argv []string) error {
	f.record(argv)
	dev := argv[len(argv)-1]
	if argv[0] == "wipefs" {
		f.mu.Lock()
		delete(f.devices, dev)
		f.mu.Unlock()
		return nil
	}
	format, ok := map[string]string{"mkfs.ext4": "ext4", "mkfs.xfs": "xfs", "mkfs.btrfs": "btrfs", "mkfs.vfat": "vfat", "mkswap": "swap"}[argv[0]]
	if !ok {
		return fmt.Errorf("fake: unexpected %v", argv)
	}
	f.mu.Lock()
	f.running++
	f.max = max(f.max, f.running)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running--
		f.mu.Unlock()
	}()
	if f.mkfs != nil {
		if err := f.mkfs(argv); err != nil {
			return err
		}
	}
	out := "ID_FS_TYPE=" + format + "\n"
	for i := 1; i+1 < len(argv)-1; i++ {
		flag, v := argv[i], argv[i+1]
		if f.ignore[flag] {
			continue
		}
		switch {
		case flag == "-L" || flag == "-n":
			out += "ID_FS_LABEL_ENC=" + v + "\n"
		case flag == "-U" || flag == "-m" && strings.HasPrefix(v, "uuid="):
			out += "ID_FS_UUID_ENC=" + strings.TrimPrefix(v, "uuid=") + "\n"
		case flag == "-i":
			out += "ID_FS_UUID_ENC=" + strings.ToUpper(v[:4]+"-"+v[4:]) + "\n"
		}
	}
	f.mu.Lock()
	f.devices[dev] = out
	f.mu.Unlock()
	return nil
}

// commands returns the recorded commands other than blkid.
func (f *fsFake) commands() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cs [][]string
	for _, c := range f.calls {
		if c[0] != "blkid" {
			cs = append(cs, c)
		}
	}
	return cs
}

func fsStage(cmd *fsFake, parallel int) (*stage, *bytes.Buffer) {
	buf := &bytes.Buffer{}
	return &stage{
		cfg:     &types.Config{},
		e:       Env{Parallel: parallel},
		cmd:     cmd,
		log:     log.NewWithSink(log.NewWriterSink(&fsSyncBuffer{b: buf})),
		devices: map[string]string{},
	}, buf
}

// fsSyncBuffer lets the test read the log buffer the stage's goroutines
// wrote to.
type fsSyncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *fsSyncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func fsPtr[T any](v T) *T { return &v }

// fsJobFor is storage.filesystems.<i> on device.
func fsJobFor(i int, device, format string, opts ...func(*types.Filesystem)) fsJob {
	fs := types.Filesystem{Device: device, Format: fsPtr(format)}
	for _, o := range opts {
		o(&fs)
	}
	return fsJob{entry: fmt.Sprintf("storage.filesystems.%d", i), fs: fs, device: device}
}

func fsOptLabel(l string) func(*types.Filesystem) {
	return func(fs *types.Filesystem) { fs.Label = &l }
}
func fsOptUUID(u string) func(*types.Filesystem) {
	return func(fs *types.Filesystem) { fs.UUID = &u }
}
func fsOptWipe(fs *types.Filesystem) { fs.WipeFilesystem = fsPtr(true) }
func fsOptOptions(o ...string) func(*types.Filesystem) {
	return func(fs *types.Filesystem) { fs.Options = o }
}

const fsUUID = "0a7a2f3c-1111-2222-3333-444455556666"

// TestFSJudge covers the reuse semantics: what each combination of
// device content and config does.
func TestFSJudge(t *testing.T) {
	ext4Root := fsSignature{fsType: "ext4", label: "root", uuid: fsUUID}
	vfat := fsSignature{fsType: "vfat", label: "EFI", uuid: "1234-ABCD"}
	tests := []struct {
		name   string
		found  fsSignature
		job    fsJob
		action fsAction
		wipe   bool
		err    string
	}{
		{name: "empty: create", job: fsJobFor(0, "/dev/vdb", "ext4"), action: fsCreate},
		{name: "empty, wipe: create without wiping", job: fsJobFor(0, "/dev/vdb", "ext4", fsOptWipe), action: fsCreate},
		{name: "empty, none", job: fsJobFor(0, "/dev/vdb", "none"), action: fsNothing},
		{name: "empty, none, wipe", job: fsJobFor(0, "/dev/vdb", "none", fsOptWipe), action: fsNothing},
		{name: "same format", found: ext4Root, job: fsJobFor(0, "/dev/vdb", "ext4"), action: fsReuse},
		{name: "same format and label", found: ext4Root, job: fsJobFor(0, "/dev/vdb", "ext4", fsOptLabel("root")), action: fsReuse},
		{name: "same uuid in capitals", found: ext4Root, job: fsJobFor(0, "/dev/vdb", "ext4", fsOptUUID(strings.ToUpper(fsUUID))), action: fsReuse},
		{name: "vfat id without dash, lower case", found: vfat, job: fsJobFor(0, "/dev/vdb", "vfat", fsOptUUID("1234abcd")), action: fsReuse},
		{name: "vfat id as blkid prints it", found: vfat, job: fsJobFor(0, "/dev/vdb", "vfat", fsOptUUID("1234-ABCD"), fsOptLabel("EFI")), action: fsReuse},
		{
			name: "other format", found: fsSignature{fsType: "xfs", label: "data"}, job: fsJobFor(2, "/dev/vdb1", "ext4"),
			err: `the device has xfs (label "data"), the config wants ext4; set wipeFilesystem to replace it`,
		},
		{
			name: "other label", found: ext4Root, job: fsJobFor(0, "/dev/vdb", "ext4", fsOptLabel("data")),
			err: `the device has ext4 (label "root", uuid ` + fsUUID + `), the config wants ext4 (label "data")`,
		},
		{
			name: "label differs in case", found: vfat, job: fsJobFor(0, "/dev/vdb", "vfat", fsOptLabel("efi")),
			err: `the config wants vfat (label "efi")`,
		},
		{
			name: "other uuid", found: ext4Root, job: fsJobFor(0, "/dev/vdb", "ext4", fsOptUUID("0a7a2f3c-1111-2222-3333-444455556667")),
			err: "the config wants ext4 (uuid 0a7a2f3c-1111-2222-3333-444455556667)",
		},
		{name: "other format, wipe", found: ext4Root, job: fsJobFor(0, "/dev/vdb", "xfs", fsOptWipe), action: fsCreate, wipe: true},
		{name: "same format, wipe", found: ext4Root, job: fsJobFor(0, "/dev/vdb", "ext4", fsOptWipe), action: fsCreate, wipe: true},
		{name: "none, wipe", found: ext4Root, job: fsJobFor(0, "/dev/vdb", "none", fsOptWipe), action: fsWipe, wipe: true},
		{
			name: "none over a filesystem", found: ext4Root, job: fsJobFor(0, "/dev/vdb", "none"),
			err: "the device has ext4 (label \"root\", uuid " + fsUUID + "), the config wants no filesystem (format none); set wipeFilesystem to wipe it",
		},
		{
			name: "LUKS is not empty", found: fsSignature{fsType: "crypto_LUKS", uuid: fsUUID}, job: fsJobFor(0, "/dev/vdb", "ext4"),
			err: "the device has crypto_LUKS (uuid " + fsUUID + "), the config wants ext4",
		},
		{
			name: "RAID member is not empty", found: fsSignature{fsType: "linux_raid_member", label: "host:data"}, job: fsJobFor(0, "/dev/vdb", "ext4"),
			err: `the device has linux_raid_member (label "host:data"), the config wants ext4`,
		},
		{
			name: "partition table is not empty", found: fsSignature{ptType: "gpt"}, job: fsJobFor(0, "/dev/vdb", "ext4"),
			err: "the device has a gpt partition table, the config wants ext4",
		},
		{name: "partition table, wipe", found: fsSignature{ptType: "gpt"}, job: fsJobFor(0, "/dev/vdb", "ext4", fsOptWipe), action: fsCreate, wipe: true},
		{
			name: "ambivalent is not reused", found: fsSignature{fsType: "ext4", ambivalent: "filesystem:ext4:1.0 filesystem:btrfs"}, job: fsJobFor(0, "/dev/vdb", "ext4"),
			err: "the device has several signatures blkid cannot choose between (filesystem:ext4:1.0 filesystem:btrfs), the config wants ext4",
		},
		{name: "bad vfat id", job: fsJobFor(0, "/dev/vdb", "vfat", fsOptUUID(fsUUID)), err: "is not a vfat volume id"},
		{name: "bad ext4 uuid", job: fsJobFor(0, "/dev/vdb", "ext4", fsOptUUID("1234-ABCD")), err: `uuid "1234-ABCD" is not a UUID`},
		{name: "uuid not hex", job: fsJobFor(0, "/dev/vdb", "btrfs", fsOptUUID("random")), err: "is not hexadecimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fsPlan{fsJob: tt.job}
			err := p.judge(tt.found)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("judge = %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("judge: %v", err)
			}
			if p.action != tt.action || p.wipe != tt.wipe {
				t.Fatalf("judge: action %d wipe %v, want %d %v", p.action, p.wipe, tt.action, tt.wipe)
			}
		})
	}
}

func TestFSParseProbe(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want fsSignature
	}{
		{
			name: "escaped label",
			out:  "ID_FS_LABEL=a_b\"c\\d$e\nID_FS_LABEL_ENC=a\\x20b\\x22c\\x5cd\\x24e\nID_FS_UUID=" + fsUUID + "\nID_FS_UUID_ENC=" + fsUUID + "\nID_FS_TYPE=ext4\nID_FS_USAGE=filesystem\n",
			want: fsSignature{fsType: "ext4", label: `a b"c\d$e`, uuid: fsUUID},
		},
		{
			name: "UTF-8 label",
			out:  "ID_FS_LABEL=ünï\nID_FS_LABEL_ENC=ünï\nID_FS_TYPE=xfs\n",
			want: fsSignature{fsType: "xfs", label: "ünï"},
		},
		{
			name: "partition entry only: empty",
			out:  "ID_PART_ENTRY_SCHEME=gpt\nID_PART_ENTRY_UUID=cbdc8050-42d7-43d6-bc59-d57049ca8597\nID_PART_ENTRY_NUMBER=1\n",
		},
		{
			name: "partition table",
			out:  "ID_PART_TABLE_UUID=abbd5e1a-bf2e-480d-966d-e47f41504c66\nID_PART_TABLE_TYPE=gpt\n",
			want: fsSignature{ptType: "gpt"},
		},
		{
			name: "ambivalent",
			out:  "ID_FS_AMBIVALENT=filesystem:ext4:1.0 filesystem:btrfs\n",
			want: fsSignature{ambivalent: "filesystem:ext4:1.0 filesystem:btrfs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseFSProbe([]byte(tt.out))
			if got != tt.want {
				t.Fatalf("parseFSProbe = %+v, want %+v", got, tt.want)
			}
			if got.empty() != (tt.want == fsSignature{}) {
				t.Fatalf("empty() = %v", got.empty())
			}
		})
	}
}

func TestFSProbeExitCodes(t *testing.T) {
	f := newFSFake()
	f.devices["/dev/amb"] = "ID_FS_AMBIVALENT=filesystem:ext4:1.0 filesystem:btrfs\n"
	s, _ := fsStage(f, 1)
	ctx := context.Background()
	if g, err := s.probeFS(ctx, "/dev/empty"); err != nil || !g.empty() {
		t.Errorf("exit 2: %+v, %v; want empty", g, err)
	}
	if g, err := s.probeFS(ctx, "/dev/amb"); err != nil || g.empty() || g.ambivalent == "" {
		t.Errorf("exit 8: %+v, %v; want ambivalent", g, err)
	}
	s.cmd = fsFailingRunner{fsExit(4)}
	if _, err := s.probeFS(ctx, "/dev/x"); err == nil || !strings.Contains(err.Error(), "probing /dev/x: exit status 4") {
		t.Errorf("exit 4: %v; want an error", err)
	}
}

type fsFailingRunner struct{ err error }

func (r fsFailingRunner) Run(context.Context, []string) error { return r.err }
func (r fsFailingRunner) Output(context.Context, []string) ([]byte, error) {
	return nil, r.err
}

// TestFSMkfsArgv checks each tool's flags: force, label, uuid, then the
// options, then the device last.
func TestFSMkfsArgv(t *testing.T) {
	tests := []struct {
		job  fsJob
		want []string
	}{
		{fsJobFor(0, "/dev/vdb1", "ext4"), []string{"mkfs.ext4", "-F", "/dev/vdb1"}},
		{
			fsJobFor(0, "/dev/vdb1", "ext4", fsOptLabel("root"), fsOptUUID(fsUUID), fsOptOptions("-b", "4096")),
			[]string{"mkfs.ext4", "-F", "-L", "root", "-U", fsUUID, "-b", "4096", "/dev/vdb1"},
		},
		{
			fsJobFor(0, "/dev/vdb1", "xfs", fsOptLabel("data"), fsOptUUID(fsUUID), fsOptOptions("-s", "size=4096")),
			[]string{"mkfs.xfs", "-f", "-L", "data", "-m", "uuid=" + fsUUID, "-s", "size=4096", "/dev/vdb1"},
		},
		{
			fsJobFor(0, "/dev/vdb1", "btrfs", fsOptLabel("b"), fsOptUUID(fsUUID), fsOptOptions("-m", "single")),
			[]string{"mkfs.btrfs", "-f", "-L", "b", "-U", fsUUID, "-m", "single", "/dev/vdb1"},
		},
		{
			fsJobFor(0, "/dev/vdb1", "vfat", fsOptLabel("EFI"), fsOptUUID("1234-abcd"), fsOptOptions("-F", "32")),
			[]string{"mkfs.vfat", "-n", "EFI", "-i", "1234abcd", "-F", "32", "/dev/vdb1"},
		},
		{
			fsJobFor(0, "/dev/vdb1", "swap", fsOptLabel("sw"), fsOptUUID(fsUUID)),
			[]string{"mkswap", "-f", "-L", "sw", "-U", fsUUID, "/dev/vdb1"},
		},
	}
	for _, tt := range tests {
		if got := mkfsArgv(tt.job.fs, tt.job.device); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("mkfsArgv(%s) = %q, want %q", deref(tt.job.fs.Format), got, tt.want)
		}
	}
}

// TestFSProbeAllBeforeCreate: a bad second entry means the first is
// not created either, and every bad entry is named.
func TestFSProbeAllBeforeCreate(t *testing.T) {
	f := newFSFake()
	f.devices["/dev/vdc"] = "ID_FS_TYPE=xfs\nID_FS_LABEL_ENC=data\n"
	f.devices["/dev/vdd"] = "ID_FS_TYPE=crypto_LUKS\n"
	s, _ := fsStage(f, 0)
	err := s.createFilesystems(context.Background(), []fsJob{
		fsJobFor(0, "/dev/vdb", "ext4"),
		fsJobFor(1, "/dev/vdc", "ext4"),
		fsJobFor(2, "/dev/vdd", "ext4"),
	})
	if err == nil {
		t.Fatal("createFilesystems succeeded")
	}
	for _, want := range []string{
		`storage.filesystems.1 (/dev/vdc): the device has xfs (label "data"), the config wants ext4; set wipeFilesystem to replace it`,
		"storage.filesystems.2 (/dev/vdd): the device has crypto_LUKS, the config wants ext4",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if cs := f.commands(); len(cs) != 0 {
		t.Errorf("commands ran: %q", cs)
	}
}

// TestFSLogs: reuse, creation and aliases as the log shows them.
func TestFSLogs(t *testing.T) {
	f := newFSFake()
	f.devices["/dev/vdb1"] = "ID_FS_TYPE=ext4\nID_FS_LABEL_ENC=root\n"
	f.devices["/dev/vdd"] = "ID_FS_TYPE=ext4\n"
	s, buf := fsStage(f, 0)
	alias := fsJobFor(1, "/dev/vdc", "xfs")
	alias.fs.Device = "/dev/disk/by-partlabel/data"
	err := s.createFilesystems(context.Background(), []fsJob{
		fsJobFor(0, "/dev/vdb1", "ext4", fsOptLabel("root")),
		alias,
		fsJobFor(2, "/dev/vdd", "swap", fsOptWipe),
		fsJobFor(3, "/dev/vde", "none"),
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := buf.String()
	for _, want := range []string{
		`INFO     : storage.filesystems.0 (/dev/vdb1): reusing ext4 "root"`,
		"[started]  storage.filesystems.1 (/dev/disk/by-partlabel/data, /dev/vdc): creating xfs",
		"[finished] storage.filesystems.1 (/dev/disk/by-partlabel/data, /dev/vdc): creating xfs",
		"[finished] storage.filesystems.2 (/dev/vdd): wiping ext4",
		"[finished] storage.filesystems.2 (/dev/vdd): creating swap",
		"storage.filesystems.3 (/dev/vde): no filesystem wanted and none there",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	want := [][]string{{"mkfs.xfs", "-f", "/dev/vdc"}, {"wipefs", "-a", "/dev/vdd"}, {"mkswap", "-f", "/dev/vdd"}}
	got := f.commands()
	// The devices run in parallel: compare per device.
	byDev := func(cs [][]string) map[string][][]string {
		m := map[string][][]string{}
		for _, c := range cs {
			m[c[len(c)-1]] = append(m[c[len(c)-1]], c)
		}
		return m
	}
	if !reflect.DeepEqual(byDev(got), byDev(want)) {
		t.Errorf("commands = %q, want %q", got, want)
	}
}

// TestFSParallel: distinct devices really overlap, up to the limit, and
// Parallel=1 never overlaps.
func TestFSParallel(t *testing.T) {
	tests := []struct {
		parallel, jobs, want int
	}{
		{parallel: 1, jobs: 4, want: 1},
		{parallel: 2, jobs: 4, want: 2},
		{parallel: 4, jobs: 4, want: 4},
		{parallel: 8, jobs: 3, want: 3},
		{parallel: 0, jobs: 4, want: min(runtime.NumCPU(), 4)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("parallel=%d,jobs=%d", tt.parallel, tt.jobs), func(t *testing.T) {
			f := newFSFake()
			f.mkfs = func([]string) error {
				// Wait until the expected number run at once (or give
				// up), then linger so that any more that the limit
				// wrongly let through would be counted.
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) {
					f.mu.Lock()
					n := f.running
					f.mu.Unlock()
					if n >= tt.want {
						break
					}
					time.Sleep(time.Millisecond)
				}
				time.Sleep(20 * time.Millisecond)
				return nil
			}
			s, _ := fsStage(f, tt.parallel)
			var jobs []fsJob
			for i := range tt.jobs {
				jobs = append(jobs, fsJobFor(i, fmt.Sprintf("/dev/vd%c", 'b'+i), "ext4"))
			}
			if err := s.createFilesystems(context.Background(), jobs); err != nil {
				t.Fatal(err)
			}
			if f.max != tt.want {
				t.Errorf("%d mkfs ran at once, want %d", f.max, tt.want)
			}
			if n := len(f.commands()); n != tt.jobs {
				t.Errorf("%d commands, want %d", n, tt.jobs)
			}
		})
	}
}

// TestFSSameDevice: two entries on one device (two aliases of it) run
// one after the other in config order, and the second is judged against
// what the first leaves.
func TestFSSameDevice(t *testing.T) {
	f := newFSFake()
	f.devices["/dev/vdb"] = "ID_FS_TYPE=xfs\n"
	f.mkfs = func([]string) error { time.Sleep(10 * time.Millisecond); return nil }
	s, buf := fsStage(f, 4)
	jobs := []fsJob{
		fsJobFor(0, "/dev/vdb", "ext4", fsOptWipe, fsOptLabel("one")),
		fsJobFor(1, "/dev/vdc", "ext4"),
		fsJobFor(2, "/dev/vdb", "swap", fsOptWipe),
	}
	if err := s.createFilesystems(context.Background(), jobs); err != nil {
		t.Fatal(err)
	}
	var onB [][]string
	for _, c := range f.commands() {
		if c[len(c)-1] == "/dev/vdb" {
			onB = append(onB, c)
		}
	}
	want := [][]string{
		{"wipefs", "-a", "/dev/vdb"}, {"mkfs.ext4", "-F", "-L", "one", "/dev/vdb"},
		{"wipefs", "-a", "/dev/vdb"}, {"mkswap", "-f", "/dev/vdb"},
	}
	if !reflect.DeepEqual(onB, want) {
		t.Errorf("commands on /dev/vdb = %q, want %q", onB, want)
	}
	if logs := buf.String(); !strings.Contains(logs, "[finished] storage.filesystems.2 (/dev/vdb): wiping ext4 (label \"one\")\n") {
		t.Errorf("log does not say what the second entry wiped:\n%s", logs)
	}

	// Reusing what an earlier entry makes works; wanting something else
	// of it without wiping fails before anything runs.
	f = newFSFake()
	s, _ = fsStage(f, 4)
	err := s.createFilesystems(context.Background(), []fsJob{
		fsJobFor(0, "/dev/vdb", "ext4", fsOptLabel("one")),
		fsJobFor(1, "/dev/vdb", "ext4", fsOptLabel("one")),
	})
	if err != nil || len(f.commands()) != 1 {
		t.Errorf("reuse of an earlier entry: %v, commands %q", err, f.commands())
	}
	f = newFSFake()
	s, _ = fsStage(f, 4)
	err = s.createFilesystems(context.Background(), []fsJob{
		fsJobFor(0, "/dev/vdb", "ext4", fsOptLabel("one")),
		fsJobFor(1, "/dev/vdb", "xfs"),
	})
	want1 := `storage.filesystems.1 (/dev/vdb): the device has ext4 (label "one") once storage.filesystems.0 has run, the config wants xfs`
	if err == nil || !strings.Contains(err.Error(), want1) || len(f.commands()) != 0 {
		t.Errorf("conflict with an earlier entry: %v, commands %q; want %q", err, f.commands(), want1)
	}
}

// TestFSFailures: after a failure the running entries finish, no new
// one starts, and every failed entry is named.
func TestFSFailures(t *testing.T) {
	f := newFSFake()
	var mu sync.Mutex
	arrived := 0
	f.mkfs = func(argv []string) error {
		// The first two run together, both fail.
		mu.Lock()
		arrived++
		mu.Unlock()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := arrived
			mu.Unlock()
			if n >= 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		return fmt.Errorf("%s: exit status 1: no space left", argv[0])
	}
	s, buf := fsStage(f, 2)
	var jobs []fsJob
	for i := range 4 {
		jobs = append(jobs, fsJobFor(i, fmt.Sprintf("/dev/vd%c", 'b'+i), "ext4"))
	}
	err := s.createFilesystems(context.Background(), jobs)
	if err == nil {
		t.Fatal("createFilesystems succeeded")
	}
	for _, want := range []string{
		"storage.filesystems.0 (/dev/vdb): creating ext4: mkfs.ext4: exit status 1: no space left",
		"storage.filesystems.1 (/dev/vdc): creating ext4: mkfs.ext4: exit status 1: no space left",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := len(f.commands()); n != 2 {
		t.Errorf("%d mkfs ran, want 2 (none after the failures): %q", n, f.commands())
	}
	if !strings.Contains(buf.String(), "storage.filesystems.3 (/dev/vde): not started: an earlier one failed") {
		t.Errorf("log does not say what was skipped:\n%s", buf)
	}
}

// TestFSCheckResult: a flag the tool silently dropped is caught by
// probing the result.
func TestFSCheckResult(t *testing.T) {
	f := newFSFake()
	f.ignore = map[string]bool{"-L": true}
	s, _ := fsStage(f, 1)
	err := s.createFilesystems(context.Background(), []fsJob{fsJobFor(0, "/dev/vdb", "xfs", fsOptLabel("data"))})
	want := `storage.filesystems.0 (/dev/vdb): mkfs.xfs succeeded but the device has xfs, not xfs (label "data")`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestFSCanceled(t *testing.T) {
	f := newFSFake()
	s, _ := fsStage(f, 1)
	ctx, cancel := context.WithCancel(context.Background())
	f.mkfs = func([]string) error { cancel(); return nil }
	err := s.createFilesystems(ctx, []fsJob{fsJobFor(0, "/dev/vdb", "ext4"), fsJobFor(1, "/dev/vdc", "ext4")})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if n := len(f.commands()); n != 1 {
		t.Errorf("%d mkfs ran after the cancel, want 1", n)
	}
}
