package disks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/log"
)

// Filesystems follow Ignition's reuse semantics: a device with nothing on
// it gets the filesystem; a device with something on it is wiped and
// formatted when wipeFilesystem is set, kept when it already is what the
// config asks for, and is an error otherwise, since formatting it would
// destroy data nobody asked to destroy.
//
// Every job is probed and judged before any device is written, so a
// config that fails on its third filesystem leaves the first two alone.

// fsAction is what a filesystem entry does to its device.
type fsAction int

const (
	fsReuse   fsAction = iota // keep what is there
	fsCreate                  // mkfs, after wipefs if fsPlan.wipe
	fsWipe                    // format none: wipefs only
	fsNothing                 // format none on an empty device
)

// fsPlan is a judged filesystem job.
type fsPlan struct {
	fsJob
	name   string // "storage.filesystems.0 (/dev/vdb1)", for logs and errors
	action fsAction
	wipe   bool        // wipefs -a before mkfs
	found  fsSignature // what the device held when judged
}

// fsSignature is what blkid finds on a device. Only the filesystem (or
// other content) signature and a partition table count; blkid also reports
// the partition entry a partition device sits in, which says nothing about
// its content.
type fsSignature struct {
	fsType string // ID_FS_TYPE: ext4, xfs, swap, crypto_LUKS, linux_raid_member, …
	label  string
	uuid   string
	ptType string // ID_PART_TABLE_TYPE: gpt, dos
	// ambivalent lists the signatures blkid found but could not choose
	// between (exit status 8), as in "filesystem:ext4:1.0 filesystem:btrfs".
	ambivalent string
	// madeBy is set on the state an earlier entry on the same device will
	// leave, not what the device holds now.
	madeBy string
}

func (g fsSignature) empty() bool {
	return g.fsType == "" && g.ptType == "" && g.ambivalent == ""
}

// String describes g for messages: `xfs (label "data")`.
func (g fsSignature) String() string {
	var s string
	switch {
	case g.ambivalent != "":
		s = "several signatures blkid cannot choose between (" + g.ambivalent + ")"
	case g.fsType != "":
		s = describeFS(g.fsType, g.label, g.uuid)
		if g.ptType != "" {
			s += " and a " + g.ptType + " partition table"
		}
	case g.ptType != "":
		s = "a " + g.ptType + " partition table"
	default:
		s = "nothing"
	}
	if g.madeBy != "" {
		s += " once " + g.madeBy + " has run"
	}
	return s
}

// describeFS names a filesystem with what identifies it: `ext4 (label
// "root", uuid …)`.
func describeFS(format, label, uuid string) string {
	var ids []string
	if label != "" {
		ids = append(ids, fmt.Sprintf("label %q", label))
	}
	if uuid != "" {
		ids = append(ids, "uuid "+uuid)
	}
	if len(ids) == 0 {
		return format
	}
	return format + " (" + strings.Join(ids, ", ") + ")"
}

// createFilesystems probes every filesystem, then creates those that
// need it.
func (s *stage) createFilesystems(ctx context.Context, jobs []fsJob) error {
	if len(jobs) == 0 {
		return nil
	}
	plans, err := s.planFilesystems(ctx, jobs)
	if err != nil {
		return err
	}
	for _, p := range plans {
		switch p.action {
		case fsReuse:
			if p.found.label != "" {
				s.log.Info("%s: reusing %s %q", p.name, p.found.fsType, p.found.label)
			} else {
				s.log.Info("%s: reusing %s", p.name, p.found.fsType)
			}
		case fsNothing:
			s.log.Info("%s: no filesystem wanted and none there", p.name)
		}
	}
	return s.runFilesystemPlans(ctx, plans)
}

// planFilesystems probes and judges every job; it returns an error naming
// every job that cannot be applied.
func (s *stage) planFilesystems(ctx context.Context, jobs []fsJob) ([]*fsPlan, error) {
	// A device named twice (two aliases of one device) is judged the
	// second time against what the first entry will leave on it, since
	// that is what the second will find when it runs.
	state := map[string]fsSignature{}
	var plans []*fsPlan
	var errs []error
	for _, j := range jobs {
		p := &fsPlan{fsJob: j, name: fsName(j)}
		found, ok := state[j.device]
		if !ok {
			var err error
			if found, err = s.probeFS(ctx, j.device); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
				continue
			}
		}
		if err := p.judge(found); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
			continue
		}
		if err := p.checkInUse(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
			continue
		}
		state[j.device] = p.leaves()
		plans = append(plans, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return plans, nil
}

// fsName is how messages name a job: its entry and the device the config
// gave, with the real device when that was an alias.
func fsName(j fsJob) string {
	if j.fs.Device == "" || j.fs.Device == j.device {
		return fmt.Sprintf("%s (%s)", j.entry, j.device)
	}
	return fmt.Sprintf("%s (%s, %s)", j.entry, j.fs.Device, j.device)
}

// judge decides p's action from what its device holds.
func (p *fsPlan) judge(found fsSignature) error {
	format := deref(p.fs.Format)
	label, uuid := deref(p.fs.Label), deref(p.fs.UUID)
	if format != "none" && argv0(format) == "" {
		// Validation admits no other format; one added there must be
		// added here too.
		return fmt.Errorf("format %q: no tool makes it", format)
	}
	if err := checkFSUUID(format, uuid); err != nil {
		return err
	}
	p.found = found
	switch {
	case found.empty() && format == "none":
		p.action = fsNothing
	case found.empty():
		p.action = fsCreate
	case deref(p.fs.WipeFilesystem) && format == "none":
		p.action, p.wipe = fsWipe, true
	case deref(p.fs.WipeFilesystem):
		p.action, p.wipe = fsCreate, true
	case format == "none":
		return fmt.Errorf("the device has %s, the config wants no filesystem (format none); set wipeFilesystem to wipe it", found)
	case found.ambivalent == "" && found.fsType == format &&
		(label == "" || found.label == label) &&
		(uuid == "" || sameFSUUID(found.uuid, uuid)):
		p.action = fsReuse
	default:
		return fmt.Errorf("the device has %s, the config wants %s; set wipeFilesystem to replace it",
			found, describeFS(format, label, uuid))
	}
	return nil
}

// checkInUse fails when p would wipe or format a whole disk one of whose
// partitions something holds: the filesystem would be made under a
// mounted one, and the kernel would keep that partition.
func (p *fsPlan) checkInUse() error {
	if p.action != fsCreate && p.action != fsWipe {
		return nil
	}
	busy := heldPartitionsOf(nodeOf(p.device))
	if len(busy) == 0 {
		return nil
	}
	var held []string
	for _, n := range sortedKeys(busy) {
		held = append(held, busy[n])
	}
	return fmt.Errorf("the disk's partition %s %s in use (mounted, or under a RAID, LUKS or swap device); not replacing the disk under it", strings.Join(held, ", "), isAre(len(held)))
}

// leaves is what p's device holds once p has run, as far as the config
// tells: a filesystem made without a uuid gets a random one.
func (p *fsPlan) leaves() fsSignature {
	switch p.action {
	case fsCreate:
		return fsSignature{fsType: deref(p.fs.Format), label: deref(p.fs.Label), uuid: deref(p.fs.UUID), madeBy: p.entry}
	case fsWipe, fsNothing:
		return fsSignature{madeBy: p.entry}
	}
	return p.found
}

// checkFSUUID checks that uuid is something format's mkfs takes, so that
// a bad one fails before any device is written rather than halfway.
func checkFSUUID(format, uuid string) error {
	if uuid == "" {
		return nil
	}
	hex := strings.ReplaceAll(uuid, "-", "")
	if strings.Trim(hex, "0123456789abcdefABCDEF") != "" {
		return fmt.Errorf("uuid %q is not hexadecimal", uuid)
	}
	switch format {
	case "vfat":
		// A FAT volume id is 32 bits, written 1234-ABCD.
		if len(hex) != 8 {
			return fmt.Errorf("uuid %q is not a vfat volume id (8 hex digits, as in 1234-ABCD)", uuid)
		}
	case "ext4", "xfs", "btrfs", "swap":
		if len(uuid) != 36 || len(hex) != 32 || uuid[8] != '-' || uuid[13] != '-' || uuid[18] != '-' || uuid[23] != '-' {
			return fmt.Errorf("uuid %q is not a UUID (as in 0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9)", uuid)
		}
	}
	return nil
}

// sameFSUUID compares uuids as their digits: blkid prints a FAT volume
// id as 1234-ABCD, which a config may write 1234abcd.
func sameFSUUID(a, b string) bool {
	return strings.EqualFold(strings.ReplaceAll(a, "-", ""), strings.ReplaceAll(b, "-", ""))
}

// probeFS reads what device holds with blkid's low-level probe, which
// reads the device itself rather than blkid's cache. The udev output
// format is used because it encodes labels unambiguously (\xNN), where
// the export format prints bytes above 127 in a lossy M- notation.
func (s *stage) probeFS(ctx context.Context, device string) (fsSignature, error) {
	out, err := s.cmd.Output(ctx, []string{distro.BlkidCmd(), "-p", "-o", "udev", device})
	if err != nil {
		switch fsExitCode(err) {
		case 2: // nothing found
			return fsSignature{}, nil
		case 8: // several signatures; out lists them
			g := parseFSProbe(out)
			if g.ambivalent == "" {
				g.ambivalent = "blkid exit status 8"
			}
			return g, nil
		}
		return fsSignature{}, fmt.Errorf("probing %s: %w", device, err)
	}
	return parseFSProbe(out), nil
}

// parseFSProbe reads `blkid -p -o udev` output.
func parseFSProbe(out []byte) fsSignature {
	var g fsSignature
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch key {
		case "ID_FS_TYPE":
			g.fsType = value
		case "ID_FS_LABEL_ENC":
			g.label = unescapeUdev(value)
		case "ID_FS_UUID_ENC":
			g.uuid = unescapeUdev(value)
		case "ID_PART_TABLE_TYPE":
			g.ptType = value
		case "ID_FS_AMBIVALENT":
			g.ambivalent = value
		}
	}
	return g
}

// fsExitCode is the exit status of the command that failed with err, or
// -1 when it did not run or did not exit.
func fsExitCode(err error) int {
	var e interface{ ExitCode() int }
	if errors.As(err, &e) {
		return e.ExitCode()
	}
	return -1
}

// runFilesystemPlans wipes and formats. Devices are independent, so
// each runs in its own goroutine, at most s.e.Parallel at once; entries
// on the same device run one after another in config order. After a
// failure no new entry starts, the running ones finish, and the error
// names every entry that failed.
func (s *stage) runFilesystemPlans(ctx context.Context, plans []*fsPlan) error {
	var groups [][]*fsPlan
	byDevice := map[string]int{}
	for _, p := range plans {
		if p.action != fsCreate && p.action != fsWipe {
			continue
		}
		i, ok := byDevice[p.device]
		if !ok {
			i = len(groups)
			byDevice[p.device] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], p)
	}
	if len(groups) == 0 {
		return nil
	}

	limit := s.e.Parallel
	if limit <= 0 {
		limit = runtime.NumCPU()
	}
	sem := make(chan struct{}, limit)
	var (
		wg      sync.WaitGroup
		failed  atomic.Bool
		mu      sync.Mutex
		errs    = map[*fsPlan]error{}
		started = map[*fsPlan]bool{}
	)
	stop := func() bool { return failed.Load() || ctx.Err() != nil }
	for _, g := range groups {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if stop() {
			break
		}
		wg.Add(1)
		go func(g []*fsPlan, l *log.Logger) {
			defer wg.Done()
			defer func() { <-sem }()
			for _, p := range g {
				if stop() {
					return
				}
				mu.Lock()
				started[p] = true
				mu.Unlock()
				if err := s.makeFilesystem(ctx, l, p); err != nil {
					mu.Lock()
					errs[p] = err
					mu.Unlock()
					failed.Store(true)
					return
				}
			}
		}(g, s.log.Fork())
	}
	wg.Wait()

	var all []error
	for _, p := range plans {
		if err, ok := errs[p]; ok {
			all = append(all, err)
		} else if (p.action == fsCreate || p.action == fsWipe) && !started[p] {
			why := "an earlier one failed"
			if !failed.Load() {
				why = "the stage was canceled"
			}
			s.log.Warning("%s: not started: %s", p.name, why)
		}
	}
	if len(all) == 0 && ctx.Err() != nil {
		return fmt.Errorf("storage.filesystems: %w", ctx.Err())
	}
	return errors.Join(all...)
}

// makeFilesystem carries out p, then probes the device again to check
// it got what was asked: a tool that ignored a flag (or options that
// overrode one) would otherwise go unnoticed until something mounts by
// label or uuid.
func (s *stage) makeFilesystem(ctx context.Context, l *log.Logger, p *fsPlan) error {
	format := deref(p.fs.Format)
	if p.wipe {
		was := p.found
		was.madeBy = "" // by now it has been made
		err := l.LogOp(func() error {
			return s.cmd.Run(ctx, []string{distro.WipefsCmd(), "-a", p.device})
		}, "%s: wiping %s", p.name, was)
		if err != nil {
			return fmt.Errorf("%s: wiping %s: %w", p.name, was, err)
		}
	}
	if err := s.forgetPartitions(ctx, p.device); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	if p.action == fsCreate {
		argv := mkfsArgv(p.fs, p.device)
		err := l.LogOp(func() error { return s.cmd.Run(ctx, argv) }, "%s: creating %s", p.name, format)
		if err != nil {
			return fmt.Errorf("%s: creating %s: %w", p.name, format, err)
		}
	}

	got, err := s.probeFS(ctx, p.device)
	if err != nil {
		return fmt.Errorf("%s: checking the result: %w", p.name, err)
	}
	if p.action == fsWipe {
		if !got.empty() {
			return fmt.Errorf("%s: after wiping, the device still has %s", p.name, got)
		}
		return nil
	}
	label, uuid := deref(p.fs.Label), deref(p.fs.UUID)
	if got.ambivalent != "" || got.fsType != format ||
		(label != "" && got.label != label) || (uuid != "" && !sameFSUUID(got.uuid, uuid)) {
		return fmt.Errorf("%s: %s succeeded but the device has %s, not %s",
			p.name, argv0(format), got, describeFS(format, label, uuid))
	}
	return nil
}

// mkfsArgv is the command that makes fs on device: the force flag (the
// device was judged already, and may hold what wipeFilesystem allows to
// replace), the label and uuid, then the config's options, then the
// device.
func mkfsArgv(fs types.Filesystem, device string) []string {
	format := deref(fs.Format)
	label, uuid := deref(fs.Label), deref(fs.UUID)
	argv := []string{argv0(format)}
	switch format {
	case "ext4":
		argv = append(argv, "-F")
		argv = appendFlag(argv, "-L", label)
		argv = appendFlag(argv, "-U", uuid)
	case "xfs":
		argv = append(argv, "-f")
		argv = appendFlag(argv, "-L", label)
		if uuid != "" {
			argv = append(argv, "-m", "uuid="+uuid)
		}
	case "btrfs":
		argv = append(argv, "-f")
		argv = appendFlag(argv, "-L", label)
		argv = appendFlag(argv, "-U", uuid)
	case "vfat":
		// mkfs.vfat has no force flag; -i takes the volume id as one
		// hexadecimal number.
		argv = appendFlag(argv, "-n", label)
		argv = appendFlag(argv, "-i", strings.ReplaceAll(uuid, "-", ""))
	case "swap":
		argv = append(argv, "-f")
		argv = appendFlag(argv, "-L", label)
		argv = appendFlag(argv, "-U", uuid)
	}
	argv = append(argv, fs.Options...)
	return append(argv, device)
}

// argv0 is the tool that makes format.
func argv0(format string) string {
	switch format {
	case "ext4":
		return distro.MkfsExt4Cmd()
	case "xfs":
		return distro.MkfsXfsCmd()
	case "btrfs":
		return distro.MkfsBtrfsCmd()
	case "vfat":
		return distro.MkfsVfatCmd()
	case "swap":
		return distro.MkswapCmd()
	}
	return ""
}

func appendFlag(argv []string, flag, value string) []string {
	if value == "" {
		return argv
	}
	return append(argv, flag, value)
}
