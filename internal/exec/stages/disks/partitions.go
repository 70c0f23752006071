package disks

// Partitioning: planDisk reads a disk's GPT (gpt.go), decides for every
// configured partition whether it is kept, created, resized, replaced or
// deleted, and has sgdisk --pretend place what it will create, so start
// and size 0 mean exactly what sgdisk makes of them. applyDisk then writes
// the whole table (writeGPT, or sgdisk for a table writeGPT does not
// rewrite), reads it back to check it, and tells the kernel partition by
// partition.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/distro"
)

// linuxFilesystemType is the type GUID of a partition whose config has
// none (the spec's default, and sgdisk's: set anyway, not left to it).
const linuxFilesystemType = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

// gptDefaultEntries is the size of the entry array sgdisk makes for a
// new table, and so the highest partition number it takes.
const gptDefaultEntries = 128

// stepKind is what happens to one partition.
type stepKind int

const (
	stepKeep    stepKind = iota // present and matching: untouched
	stepCreate                  // absent: created
	stepDelete                  // present and shouldExist false: deleted
	stepResize                  // present, differing only in size, resize set
	stepReplace                 // present, not matching, wipePartitionEntry set
)

// partStep is one partition's part of a plan.
type partStep struct {
	kind   stepKind
	number int
	start  uint64 // first sector (all but stepDelete)
	end    uint64 // last sector, inclusive
	// What the new entry gets (create, replace, resize); a guid of ""
	// lets sgdisk choose a random one.
	typeGUID string
	guid     string
	name     string
	attrs    uint64 // attribute bits (resize keeps the old ones)
	why      string // for stepReplace: how the old entry differs
}

// diskPlan is what will be done to one disk's partition table.
type diskPlan struct {
	entry  string // "storage.disks.0"
	disk   types.Disk
	device string

	// before is the table as read; nil when the config asks nothing of
	// the disk's partitions, and then nothing is done at all.
	before     *gptTable
	sectorSize uint64
	steps      []partStep
	// zap erases the old table first (wipeTable). The new table is
	// layout, written by writeGPT, or, for a table writeGPT does not
	// rewrite, args, sgdisk's arguments; both are nil when nothing is to
	// be written.
	zap    bool
	layout *gptLayout
	args   []string
	// want is the table the plan makes, by partition number;
	// randomGUID marks the created entries whose GUID sgdisk chooses.
	want       map[int]gptEntry
	randomGUID map[int]bool
}

// request is one configured partition while it is being planned.
type request struct {
	p           types.Partition
	number      int // p.Number, or the one assigned to number 0
	shouldExist bool
	wipe        bool // wipePartitionEntry
	old         gptEntry
	exists      bool // old is the partition's current entry

	wantStart, wantSize uint64 // explicit values in sectors; 0 = unset
	fill                bool   // the end is the end of the largest free block

	// From sgdisk --pretend:
	start, end       uint64 // where the partition ends up
	largestFirst     uint64 // the largest free block before it is made,
	largestLast      uint64 // when fill
	largestFirstSeen bool
}

// String names the partition in messages: by number, and for number 0
// also by label, since the number is one planDisk chose.
func (r *request) String() string {
	if r.p.Number == 0 {
		return fmt.Sprintf("partition %d (%q, number 0)", r.number, deref(r.p.Label))
	}
	return "partition " + itoa(r.number)
}

// planDisk reads dev's partition table and works out the changes d asks
// for, failing (without writing anything) when they are not allowed.
func (s *stage) planDisk(ctx context.Context, entry string, d types.Disk, dev string) (*diskPlan, error) {
	p := &diskPlan{entry: entry, disk: d, device: dev}
	wipeTable := deref(d.WipeTable)
	if len(d.Partitions) == 0 && !wipeTable {
		return p, nil
	}

	t, err := readGPT(dev)
	switch {
	case t == nil:
		return nil, fmt.Errorf("reading the partition table: %w", err)
	case err != nil && !wipeTable:
		return nil, fmt.Errorf("reading the partition table: %w (set wipeTable to replace it)", err)
	case !wipeTable && !t.found && t.mbr == mbrProtective:
		return nil, errors.New("the disk has a protective MBR but no valid GPT header at LBA 1 (a damaged GPT?); set wipeTable to start over")
	case !wipeTable && !t.found && t.mbr == mbrDOS:
		return nil, errors.New("the disk has a DOS (MBR) partition table, not a GPT; set wipeTable to replace it")
	}
	p.before, p.sectorSize = t, t.sectorSize
	current := t.entries
	maxNumber := gptDefaultEntries
	if wipeTable {
		current = nil
		s.log.Info("%s: wipe the partition table", dev)
	} else if t.found {
		maxNumber = int(t.numEntries)
	}

	reqs, err := requests(d.Partitions, current, maxNumber, t.sectorSize)
	if err != nil {
		return nil, err
	}
	if len(reqs) > 0 {
		if err := s.pretend(ctx, dev, wipeTable, reqs); err != nil {
			return nil, err
		}
	}

	// Judge every partition against where sgdisk put it.
	for _, r := range reqs {
		step, err := judge(r, t.sectorSize)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r, err)
		}
		if step != nil {
			p.steps = append(p.steps, *step)
		}
	}
	// Deletions go first in the write too.
	slices.SortStableFunc(p.steps, func(a, b partStep) int {
		return boolCmp(a.kind != stepDelete, b.kind != stepDelete)
	})
	for _, st := range p.steps {
		s.log.Info("%s: %s", dev, describe(st, t.sectorSize))
	}
	p.plan(wipeTable, current)
	if err := p.checkInUse(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkInUse fails when the plan would take from the kernel a partition
// that something holds (a mounted filesystem, an md, dm or swap device on
// it): the kernel would refuse to remove it, after the table on the disk
// had already been rewritten.
func (p *diskPlan) checkInUse() error {
	if !p.zap && p.layout == nil && p.args == nil {
		return nil // nothing is written
	}
	dev := nodeOf(p.device)
	busy := heldPartitionsOf(dev)
	if len(busy) == 0 {
		return nil // an image, or nothing held; the apply step reports the rest
	}
	have, err := kernelPartitions(dev)
	if err != nil {
		return nil
	}
	unit := p.sectorSize / 512
	var held []string
	for _, n := range sortedKeys(busy) {
		w, ok := p.want[n]
		if !ok || w.start*unit != have[n].start || w.sectors()*unit < have[n].size {
			held = append(held, fmt.Sprintf("partition %d (%s)", n, busy[n]))
		}
	}
	if len(held) > 0 {
		return fmt.Errorf("%s %s in use (mounted, or under a RAID, LUKS or swap device), and the plan removes or shrinks it; nothing was written", strings.Join(held, ", "), isAre(len(held)))
	}
	return nil
}

// pretend has sgdisk --pretend lay out reqs, and notes in each where it
// goes (and, for one filling the largest free block, where that was).
func (s *stage) pretend(ctx context.Context, dev string, wipeTable bool, reqs []*request) error {
	var pretend []string
	if wipeTable {
		// --zap-all does nothing in memory under --pretend; --clear does.
		// A DOS partition table makes sgdisk refuse without
		// --mbrtogpt; the write zaps it first.
		pretend = append(pretend, "--mbrtogpt", "--clear")
	} else {
		// A disk image written to a larger disk has its backup header
		// (and so the end of its usable space) where the image ended;
		// sgdisk moves it to the end of the disk only if asked.
		pretend = append(pretend, "--move-second-header")
	}
	// Deletions first: the space they free is there for what follows.
	for _, r := range reqs {
		if r.shouldExist || !r.exists {
			continue
		}
		if !r.wipe {
			return fmt.Errorf("%s: it exists and shouldExist is false, but wipePartitionEntry is false, so it may not be deleted", r)
		}
		pretend = append(pretend, "--delete="+itoa(r.number))
	}
	// Then every partition that should exist is made in config order, as
	// if all of them were deleted and created afresh: that is where a
	// start or size 0 puts them. One that is present and kept ends up
	// where it is.
	for _, r := range reqs {
		if !r.shouldExist {
			continue
		}
		if r.exists {
			pretend = append(pretend, "--delete="+itoa(r.number))
		}
		start, end := "0", "0"
		if r.wantStart != 0 {
			start = u64toa(r.wantStart)
		}
		if r.wantSize != 0 {
			end = "+" + u64toa(r.wantSize)
		}
		if r.fill {
			// Where the largest free block is just before this one is made.
			pretend = append(pretend, "--first-in-largest", "--end-of-largest")
		}
		pretend = append(pretend, fmt.Sprintf("--new=%d:%s:%s", r.number, start, end))
	}
	for _, r := range reqs {
		if r.shouldExist {
			pretend = append(pretend, "--info="+itoa(r.number))
		}
	}
	argv := append([]string{distro.SgdiskCmd(), "--pretend"}, pretend...)
	argv = append(argv, dev)
	out, err := s.cmd.Output(ctx, argv)
	if err != nil {
		if why := outsideLargest(out, reqs); why != nil {
			return why
		}
		if r := cannotCreate(err, reqs); r != nil {
			// Past the end of the disk, or over another partition.
			return fmt.Errorf("%s: sgdisk cannot create it: %w", r, err)
		}
		return fmt.Errorf("sgdisk cannot lay the partitions out: %w", err)
	}
	if err := readPretend(out, reqs); err != nil {
		return fmt.Errorf("reading sgdisk --pretend: %w", err)
	}
	return nil
}

// requests pairs each configured partition with its current entry and
// gives number 0 the lowest number that neither the disk nor the config
// uses.
func requests(parts []types.Partition, current []gptEntry, maxNumber int, sectorSize uint64) ([]*request, error) {
	used := map[int]bool{}
	for _, e := range current {
		used[e.number] = true
	}
	for _, p := range parts {
		used[p.Number] = true
	}
	mib := uint64(1<<20) / sectorSize
	var reqs []*request
	for i, p := range parts {
		r := &request{
			p:           p,
			number:      p.Number,
			shouldExist: p.ShouldExist == nil || *p.ShouldExist,
			wipe:        deref(p.WipePartitionEntry),
		}
		if p.Number < 0 {
			return nil, fmt.Errorf("partitions.%d: number %d is negative", i, p.Number)
		}
		if r.number == 0 {
			n := 1
			for used[n] {
				n++
			}
			used[n] = true
			r.number = n
		}
		if r.shouldExist && r.number > maxNumber {
			return nil, fmt.Errorf("%s: the table has room for %d partitions", r, maxNumber)
		}
		if p.Number != 0 {
			for _, e := range current {
				if e.number == p.Number {
					r.old, r.exists = e, true
				}
			}
		}
		start, size := deref(p.StartMiB), deref(p.SizeMiB)
		if start < 0 || size < 0 {
			return nil, fmt.Errorf("%s: startMiB and sizeMiB may not be negative", r)
		}
		r.wantStart = uint64(start) * mib
		r.wantSize = uint64(size) * mib
		// Unspecified start and size keep a present partition's, unless
		// its entry may be wiped; otherwise they are 0.
		keepOld := r.exists && !r.wipe
		if p.StartMiB == nil && keepOld {
			r.wantStart = r.old.start
		}
		if p.SizeMiB == nil && keepOld {
			r.wantSize = r.old.sectors()
		}
		r.fill = r.wantSize == 0
		reqs = append(reqs, r)
	}
	return reqs, nil
}

// pretendOutput is what sgdisk --pretend printed that planDisk asked for.
type pretendOutput struct {
	numbers []uint64 // --first-in-largest and --end-of-largest, in order
	infos   []extent // --info, in order
}

// extent is a partition's first and last sector as --info shows them.
type extent struct {
	first, last       uint64
	gotFirst, gotLast bool
}

func parsePretend(out []byte) (pretendOutput, error) {
	var po pretendOutput
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if n, err := strconv.ParseUint(line, 10, 64); err == nil {
			po.numbers = append(po.numbers, n)
			continue
		}
		if strings.HasPrefix(line, "Partition #") && strings.HasSuffix(line, "does not exist.") {
			return po, errors.New(line)
		}
		if v, ok := strings.CutPrefix(line, "First sector:"); ok {
			n, err := leadingUint(v)
			if err != nil {
				return po, fmt.Errorf("%q: %w", line, err)
			}
			po.infos = append(po.infos, extent{first: n, gotFirst: true})
			continue
		}
		if v, ok := strings.CutPrefix(line, "Last sector:"); ok {
			n, err := leadingUint(v)
			if err != nil {
				return po, fmt.Errorf("%q: %w", line, err)
			}
			if len(po.infos) == 0 || po.infos[len(po.infos)-1].gotLast {
				return po, fmt.Errorf("%q without a first sector", line)
			}
			po.infos[len(po.infos)-1].last, po.infos[len(po.infos)-1].gotLast = n, true
		}
	}
	return po, nil
}

// readPretend takes the free blocks and partition extents sgdisk
// --pretend printed, in the order planDisk asked for them: a pair of
// numbers (first in largest, end of largest) before every filling
// partition, then an --info block for every partition that should exist.
func readPretend(out []byte, reqs []*request) error {
	po, err := parsePretend(out)
	if err != nil {
		return err
	}
	var wantNumbers, wantInfos int
	for _, r := range reqs {
		if r.shouldExist {
			wantInfos++
			if r.fill {
				wantNumbers += 2
			}
		}
	}
	if len(po.numbers) != wantNumbers || len(po.infos) != wantInfos {
		return fmt.Errorf("got %d free-block sectors and %d partitions, want %d and %d", len(po.numbers), len(po.infos), wantNumbers, wantInfos)
	}
	numbers, infos := po.numbers, po.infos
	for _, r := range reqs {
		if !r.shouldExist {
			continue
		}
		if r.fill {
			r.largestFirst, r.largestLast, r.largestFirstSeen = numbers[0], numbers[1], true
			numbers = numbers[2:]
		}
		info := infos[0]
		infos = infos[1:]
		if !info.gotLast || info.last < info.first {
			return fmt.Errorf("%s: no valid extent", r)
		}
		r.start, r.end = info.first, info.last
	}
	return nil
}

// outsideLargest explains a failed sgdisk --pretend when the cause is a
// partition to fill the largest free block that starts outside it (sgdisk
// then just cannot create it): the free blocks printed before the failure
// tell. It returns nil when that is not the cause.
func outsideLargest(out []byte, reqs []*request) error {
	po, _ := parsePretend(out)
	numbers := po.numbers
	for _, r := range reqs {
		if !r.shouldExist || !r.fill {
			continue
		}
		if len(numbers) < 2 {
			return nil
		}
		first, last := numbers[0], numbers[1]
		numbers = numbers[2:]
		if r.wantStart != 0 && (r.wantStart < first || r.wantStart > last) {
			return fmt.Errorf("%s: %w", r, fillError(first, last, r.wantStart))
		}
	}
	return nil
}

// cannotCreateRE is sgdisk's message (on stderr, so in the error) for a
// --new it cannot carry out; it says where it tried.
var cannotCreateRE = regexp.MustCompile(`Could not create partition (\d+) from \d+ to \d+`)

// cannotCreate finds the request sgdisk says it could not create, so that
// the error names the config's partition; nil when the error says no such
// thing.
func cannotCreate(err error, reqs []*request) *request {
	m := cannotCreateRE.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	n, _ := strconv.Atoi(m[1])
	for _, r := range reqs {
		if r.shouldExist && r.number == n {
			return r
		}
	}
	return nil
}

func fillError(first, last, start uint64) error {
	return fmt.Errorf("it is to fill the largest free block (sectors %d-%d), but starts at sector %d, outside it", first, last, start)
}

// leadingUint parses the number that starts s (" 2048 (at 1024.0 KiB)").
func leadingUint(s string) (uint64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, errors.New("no number")
	}
	return strconv.ParseUint(f[0], 10, 64)
}

// judge applies the reuse rules to one partition, now that sgdisk has
// said where it goes: nil means nothing to do.
func judge(r *request, sectorSize uint64) (*partStep, error) {
	if !r.shouldExist {
		if !r.exists {
			return nil, nil
		}
		return &partStep{kind: stepDelete, number: r.number, name: r.old.name}, nil
	}
	// sgdisk aligns starts it is given; a start the config (or the old
	// entry) fixed must not move.
	if r.wantStart != 0 && r.start != r.wantStart {
		return nil, fmt.Errorf("sgdisk puts it at sector %d, not at sector %d as asked (alignment?)", r.start, r.wantStart)
	}
	if r.wantSize != 0 && r.end-r.start+1 != r.wantSize {
		return nil, fmt.Errorf("sgdisk makes it %s, not %s as asked", sizeString(r.end-r.start+1, sectorSize), sizeString(r.wantSize, sectorSize))
	}
	if r.fill && r.largestFirstSeen && (r.start < r.largestFirst || r.start > r.largestLast) {
		return nil, fillError(r.largestFirst, r.largestLast, r.start)
	}
	made := partStep{
		kind:     stepCreate,
		number:   r.number,
		start:    r.start,
		end:      r.end,
		typeGUID: strings.ToUpper(cmp.Or(deref(r.p.TypeGUID), linuxFilesystemType)),
		guid:     strings.ToUpper(deref(r.p.GUID)),
		name:     deref(r.p.Label),
	}
	if !r.exists {
		return &made, nil
	}

	diffs, sizeOnly := differences(r, sectorSize)
	switch {
	case len(diffs) == 0:
		keep := r.old
		return &partStep{kind: stepKeep, number: r.number, start: keep.start, end: keep.end, name: keep.name}, nil
	case r.wipe:
		made.kind, made.why = stepReplace, strings.Join(diffs, "; ")
		return &made, nil
	case sizeOnly && deref(r.p.Resize):
		old := r.old
		return &partStep{kind: stepResize, number: r.number, start: old.start, end: r.end,
			typeGUID: old.typeGUID, guid: old.guid, name: old.name, attrs: old.attrs}, nil
	case sizeOnly:
		return nil, fmt.Errorf("%s; set resize to resize it or wipePartitionEntry to replace it", diffs[0])
	}
	return nil, fmt.Errorf("%s; without wipePartitionEntry it cannot be replaced", strings.Join(diffs, "; "))
}

// differences lists how the present partition differs from the config,
// counting only what the config specifies (start and size as sgdisk
// placed them), and says whether the size is all that differs.
func differences(r *request, sectorSize uint64) (diffs []string, sizeOnly bool) {
	old := r.old
	if r.p.Label != nil && *r.p.Label != old.name {
		diffs = append(diffs, fmt.Sprintf("label is %q on the disk, the config wants %q", old.name, *r.p.Label))
	}
	if g := deref(r.p.GUID); g != "" && !strings.EqualFold(g, old.guid) {
		diffs = append(diffs, fmt.Sprintf("GUID is %s on the disk, the config wants %s", old.guid, strings.ToUpper(g)))
	}
	if g := deref(r.p.TypeGUID); g != "" && !strings.EqualFold(g, old.typeGUID) {
		diffs = append(diffs, fmt.Sprintf("type GUID is %s on the disk, the config wants %s", old.typeGUID, strings.ToUpper(g)))
	}
	if r.start != old.start {
		diffs = append(diffs, fmt.Sprintf("start is sector %d on the disk, the config wants sector %d", old.start, r.start))
	}
	others := len(diffs)
	if n := r.end - r.start + 1; n != old.sectors() {
		diffs = append(diffs, fmt.Sprintf("size is %s on the disk, the config wants %s", sizeString(old.sectors(), sectorSize), sizeString(n, sectorSize)))
	}
	return diffs, others == 0 && len(diffs) == 1
}

// plan turns the steps into the table they make and how to write it.
func (p *diskPlan) plan(wipeTable bool, current []gptEntry) {
	p.want = map[int]gptEntry{}
	p.randomGUID = map[int]bool{}
	for _, e := range current {
		p.want[e.number] = e
	}
	var ops []string
	for _, st := range p.steps {
		n := itoa(st.number)
		switch st.kind {
		case stepKeep:
			continue
		case stepDelete:
			ops = append(ops, "--delete="+n)
			delete(p.want, st.number)
			continue
		case stepResize, stepReplace:
			ops = append(ops, "--delete="+n)
		}
		ops = append(ops, fmt.Sprintf("--new=%s:%d:%d", n, st.start, st.end))
		if st.typeGUID != "" {
			ops = append(ops, "--typecode="+n+":"+st.typeGUID)
		}
		if st.guid != "" {
			ops = append(ops, "--partition-guid="+n+":"+st.guid)
		}
		if st.name != "" {
			ops = append(ops, "--change-name="+n+":"+st.name)
		}
		if st.attrs != 0 {
			ops = append(ops, fmt.Sprintf("--attributes=%s:=:%016x", n, st.attrs))
		}
		p.want[st.number] = gptEntry{number: st.number, start: st.start, end: st.end,
			typeGUID: st.typeGUID, guid: st.guid, name: st.name, attrs: st.attrs}
		p.randomGUID[st.number] = st.guid == ""
	}
	// A wiped table is erased by zapGPT; sgdisk then only writes what the
	// config asks for (nothing at all when it asks for no partitions).
	p.zap = wipeTable
	if len(ops) == 0 {
		return
	}
	var entries []gptEntry
	for _, e := range p.want {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b gptEntry) int { return a.number - b.number })
	t := p.before
	switch {
	case wipeTable:
		// A new table as sgdisk --clear makes one, which is what
		// sgdisk --pretend laid the partitions out in.
		p.layout = &gptLayout{sectorSize: t.sectorSize, diskSectors: t.diskSectors,
			numEntries: gptDefaultEntries, entries: entries}
	case t.canRewrite():
		// The same table with its backup at the end of the disk
		// (--move-second-header, as planned).
		p.layout = &gptLayout{sectorSize: t.sectorSize, diskSectors: t.diskSectors,
			numEntries: t.numEntries, firstUsable: t.firstUsable, diskGUID: t.diskGUID,
			entries: entries, mbr: t.mbrBytes}
	default:
		// Every sector is already where sgdisk --pretend put it (or
		// where the old entry was): nothing is to be aligned again.
		p.args = append([]string{"--move-second-header", "--set-alignment=1"}, ops...)
	}
}

// applyDisk writes p's changes and waits for the kernel to see them.
func (s *stage) applyDisk(ctx context.Context, p *diskPlan) error {
	if p.before == nil {
		return nil
	}
	if p.zap || p.layout != nil || p.args != nil {
		argv := append([]string{distro.SgdiskCmd()}, p.args...)
		argv = append(argv, p.device)
		err := s.log.LogOp(func() error {
			if p.zap {
				if err := zapGPT(p.device, p.before); err != nil {
					return fmt.Errorf("erasing the old table: %w", err)
				}
			}
			switch {
			case p.layout != nil:
				if err := writeGPT(p.device, *p.layout); err != nil {
					return err
				}
			case p.args != nil:
				if err := s.cmd.Run(ctx, argv); err != nil {
					return err
				}
			}
			t, err := readGPT(p.device)
			if err != nil {
				return fmt.Errorf("reading the table back: %w", err)
			}
			return p.check(t)
		}, "writing the partition table of %s", p.device)
		if err != nil {
			return fmt.Errorf("writing the partition table: %w", err)
		}
	}
	return s.tellKernel(ctx, p)
}

// check compares the table sgdisk wrote with the plan.
func (p *diskPlan) check(t *gptTable) error {
	var errs []string
	for _, n := range sortedKeys(p.want) {
		want := p.want[n]
		got, ok := t.entry(n)
		if !ok {
			errs = append(errs, fmt.Sprintf("partition %d is missing", n))
			continue
		}
		if got.start != want.start || got.end != want.end {
			errs = append(errs, fmt.Sprintf("partition %d is at sectors %d-%d, not %d-%d", n, got.start, got.end, want.start, want.end))
		}
		if got.typeGUID != want.typeGUID {
			errs = append(errs, fmt.Sprintf("partition %d has type GUID %s, not %s", n, got.typeGUID, want.typeGUID))
		}
		if !p.randomGUID[n] && got.guid != want.guid {
			errs = append(errs, fmt.Sprintf("partition %d has GUID %s, not %s", n, got.guid, want.guid))
		}
		if got.name != want.name {
			errs = append(errs, fmt.Sprintf("partition %d has label %q, not %q", n, got.name, want.name))
		}
		if got.attrs != want.attrs {
			errs = append(errs, fmt.Sprintf("partition %d has attributes %016x, not %016x", n, got.attrs, want.attrs))
		}
	}
	for _, e := range t.entries {
		if _, ok := p.want[e.number]; !ok {
			errs = append(errs, fmt.Sprintf("partition %d should not be there", e.number))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the table on the disk is not the planned one: %s", strings.Join(errs, "; "))
	}
	return nil
}

// kernelPart is a partition as the kernel knows it, in 512-byte sectors
// (sysfs and the BLKPG ioctls count in those whatever the disk's sector).
type kernelPart struct{ start, size uint64 }

// The kernel's view of a disk; variables so unit tests need neither sysfs
// nor device nodes.
var (
	// kernelPartitions lists the partitions the kernel has for disk.
	kernelPartitions = sysfsPartitions
	// partitionsInUse lists, by number, the nodes of the partitions of
	// disk that something holds.
	partitionsInUse = heldPartitions
	// isBlockDevice says whether path is a block device node.
	isBlockDevice = statBlockDevice
	// udevControl exists when udev runs.
	udevControl = "/run/udev/control"
)

// tellKernel brings the kernel's partitions of the disk in line with
// the table, then waits for the nodes of every partition the plan made
// or changed, and of every partition the kernel did not know.
//
// partx --update on the whole disk is not enough: it handles partitions
// one number at a time, so a new partition that overlaps an old one the
// kernel still has under a higher number is not added (and partx still
// exits 0), and numbers above the kernel's and the table's partition
// counts are skipped. So this removes, resizes and adds each partition
// itself, in an order that never overlaps.
func (s *stage) tellKernel(ctx context.Context, p *diskPlan) error {
	have, err := kernelPartitions(p.device)
	if err != nil {
		return fmt.Errorf("reading the kernel's partitions: %w", err)
	}
	unit := p.sectorSize / 512
	want := map[int]kernelPart{}
	for n, e := range p.want {
		want[n] = kernelPart{start: e.start * unit, size: e.sectors() * unit}
	}
	var remove, shrink, grow, add []int
	for _, n := range sortedKeys(have) {
		k := have[n]
		w, ok := want[n]
		switch {
		case !ok || w.start != k.start:
			remove = append(remove, n)
		case w.size < k.size:
			shrink = append(shrink, n)
		case w.size > k.size:
			grow = append(grow, n)
		}
	}
	for _, n := range sortedKeys(want) {
		if k, ok := have[n]; !ok || k.start != want[n].start {
			add = append(add, n)
		}
	}
	if len(remove)+len(shrink)+len(grow)+len(add) > 0 {
		s.log.Info("%s: telling the kernel: remove %v, resize %v, add %v", p.device, remove, slices.Concat(shrink, grow), add)
	}
	partx := func(op string, n int) error {
		return s.partx(ctx, p.device, op, n)
	}
	for _, n := range remove {
		if err := partx("--delete", n); err != nil {
			return fmt.Errorf("partition %d: removing it from the kernel: %w", n, err)
		}
	}
	// Shrink before growing: a partition may grow into what its
	// neighbour gives up.
	for _, n := range append(shrink, grow...) {
		if err := partx("--update", n); err != nil {
			return fmt.Errorf("partition %d: resizing it in the kernel: %w", n, err)
		}
	}
	for _, n := range add {
		if err := partx("--add", n); err != nil {
			return fmt.Errorf("partition %d: adding it to the kernel: %w", n, err)
		}
	}
	if _, err := os.Stat(udevControl); err == nil {
		if err := s.cmd.Run(ctx, []string{distro.UdevadmCmd(), "settle"}); err != nil {
			return fmt.Errorf("waiting for udev: %w", err)
		}
	}

	wait := map[int]bool{}
	for _, st := range p.steps {
		if st.kind != stepDelete && st.kind != stepKeep {
			wait[st.number] = true
		}
	}
	for _, n := range slices.Concat(shrink, grow, add) {
		wait[n] = true
	}
	for _, n := range sortedKeys(wait) {
		if err := s.waitPartition(ctx, p.device, n, want[n]); err != nil {
			return fmt.Errorf("partition %d: %w", n, err)
		}
	}
	return nil
}

// forgetPartitions removes from the kernel every partition it has for
// device, a whole disk that is to hold one filesystem (or nothing): left
// there, the old partitions, and udev's links to them, would point into
// the new filesystem. wipefs asks the kernel to reread the table, which it
// refuses to do for loop devices and disks in use. A partition in use
// cannot be removed, and that is an error: something still uses the disk
// that was just wiped.
func (s *stage) forgetPartitions(ctx context.Context, device string) error {
	dev := nodeOf(device)
	have, err := kernelPartitions(dev)
	if errors.Is(err, fs.ErrNotExist) || len(have) == 0 {
		return nil // not a disk the kernel partitions (an image, md, dm)
	}
	if err != nil {
		return fmt.Errorf("reading the kernel's partitions: %w", err)
	}
	s.log.Info("%s: removing its old partitions %v from the kernel", device, sortedKeys(have))
	for _, n := range sortedKeys(have) {
		if err := s.partx(ctx, dev, "--delete", n); err != nil {
			return fmt.Errorf("partition %d of %s: removing it from the kernel (is it in use?): %w", n, device, err)
		}
	}
	if _, err := os.Stat(udevControl); err == nil {
		if err := s.cmd.Run(ctx, []string{distro.UdevadmCmd(), "settle"}); err != nil {
			return fmt.Errorf("waiting for udev: %w", err)
		}
	}
	return nil
}

// partxRetry bounds how long a failing partx is tried again.
const partxRetry = 10 * time.Second

// partx runs partx op --nr n disk, trying again for a while when it
// fails: the kernel refuses (EBUSY) to remove a partition that anything
// has open, and udev's or another program's blkid probing a new device
// holds it open for a moment. partx does not say why it failed.
func (s *stage) partx(ctx context.Context, disk, op string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, min(s.deviceTimeout(), partxRetry))
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		err := s.cmd.Run(ctx, []string{distro.PartxCmd(), op, "--nr", itoa(n), disk})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// deviceTimeout is s.e.DeviceTimeout, or its default when the stage was
// built without Run.
func (s *stage) deviceTimeout() time.Duration {
	if s.e.DeviceTimeout <= 0 {
		return DefaultDeviceTimeout
	}
	return s.e.DeviceTimeout
}

// waitPartition waits until the kernel has partition n of disk where the
// table has it and its device node exists.
func (s *stage) waitPartition(ctx context.Context, disk string, n int, want kernelPart) error {
	timeout := s.deviceTimeout()
	node := partitionNode(disk, n)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 10 * time.Millisecond
	for {
		var last error
		have, err := kernelPartitions(disk)
		switch k, ok := have[n]; {
		case err != nil:
			last = err
		case !ok:
			last = errors.New("the kernel does not have it")
		case k != want:
			last = fmt.Errorf("the kernel has it at 512-byte sectors %d+%d, the table at %d+%d", k.start, k.size, want.start, want.size)
		default:
			last = isBlockDevice(node)
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s did not appear within %v: %w", node, timeout, last)
			}
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// partitionNode names partition n of disk as the kernel does: a disk
// whose name ends in a digit gets a "p" between (/dev/nvme0n1p2,
// /dev/loop3p2), others not (/dev/vda2).
func partitionNode(disk string, n int) string {
	if disk != "" && disk[len(disk)-1] >= '0' && disk[len(disk)-1] <= '9' {
		return disk + "p" + itoa(n)
	}
	return disk + itoa(n)
}

// sysfsPartitionDirs lists the partitions of disk by number, with their
// directories in /sys/class/block/<disk>/ (named as their nodes in /dev).
func sysfsPartitionDirs(disk string) (map[int]string, error) {
	dir := filepath.Join("/sys/class/block", filepath.Base(disk))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	parts := map[int]string{}
	for _, e := range ents {
		if !e.IsDir() {
			continue // an attribute of the disk
		}
		sub := filepath.Join(dir, e.Name())
		n, err := readSysfsNumber(filepath.Join(sub, "partition"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // not a partition (queue, holders, …)
		}
		if err != nil {
			return nil, err
		}
		parts[int(n)] = sub
	}
	return parts, nil
}

// sysfsPartitions reads /sys/class/block/<disk>/<partition>/{start,size}.
func sysfsPartitions(disk string) (map[int]kernelPart, error) {
	dirs, err := sysfsPartitionDirs(disk)
	if err != nil {
		return nil, err
	}
	parts := map[int]kernelPart{}
	for n, sub := range dirs {
		start, err := readSysfsNumber(filepath.Join(sub, "start"))
		if err != nil {
			return nil, err
		}
		size, err := readSysfsNumber(filepath.Join(sub, "size"))
		if err != nil {
			return nil, err
		}
		parts[n] = kernelPart{start: start, size: size}
	}
	return parts, nil
}

// nodeOf is the device node a path (perhaps a /dev/disk link) names, or
// the path itself when it names none.
func nodeOf(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	return path
}

// heldPartitionsOf is partitionsInUse for a disk node, with none for what
// has no partitions the kernel knows (an image file, a partition).
func heldPartitionsOf(dev string) map[int]string {
	busy, err := partitionsInUse(dev)
	if err != nil {
		return nil
	}
	return busy
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// heldPartitions tries to open each partition of disk exclusively: the
// kernel refuses (EBUSY) for one that is mounted or claimed by md, dm or
// swap, which is exactly when it also refuses to remove it.
func heldPartitions(disk string) (map[int]string, error) {
	dirs, err := sysfsPartitionDirs(disk)
	if err != nil {
		return nil, err
	}
	held := map[int]string{}
	for n, sub := range dirs {
		node := filepath.Join("/dev", filepath.Base(sub))
		f, err := os.OpenFile(node, os.O_RDONLY|unix.O_EXCL, 0)
		if errors.Is(err, unix.EBUSY) {
			held[n] = node
			continue
		}
		if err == nil {
			f.Close()
		}
	}
	return held, nil
}

func readSysfsNumber(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

func statBlockDevice(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return fmt.Errorf("%s is not a block device", path)
	}
	return nil
}

// describe is the log line for one step.
func describe(st partStep, sectorSize uint64) string {
	head := "partition " + itoa(st.number)
	if st.name != "" {
		head += fmt.Sprintf(" %q", st.name)
	}
	where := fmt.Sprintf("at sector %d, %s", st.start, sizeString(st.end-st.start+1, sectorSize))
	switch st.kind {
	case stepKeep:
		return head + ": reuse"
	case stepDelete:
		return head + ": delete"
	case stepResize:
		return head + ": resize to " + sizeString(st.end-st.start+1, sectorSize) + fmt.Sprintf(", start stays at sector %d", st.start)
	case stepReplace:
		return head + ": delete and create " + where + " (" + st.why + ")"
	}
	return head + ": create " + where
}

// sizeString shows a number of sectors in MiB (what the config uses).
func sizeString(sectors, sectorSize uint64) string {
	b := sectors * sectorSize
	if b%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%d sectors (%s MiB)", sectors, strconv.FormatFloat(float64(b)/(1<<20), 'f', 2, 64))
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func itoa(n int) string      { return strconv.Itoa(n) }
func u64toa(n uint64) string { return strconv.FormatUint(n, 10) }
