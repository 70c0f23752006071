package disks

// storage.raid: each array is created with mdadm over its members, or,
// when the members already form that array, assembled (or left running)
// so that the data on it is kept.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ignition-go/ignition/internal/distro"
)

// mdLevels maps the level names mdadm accepts to the ones it reports
// (mdadm --examine's MD_LEVEL).
var mdLevels = map[string]string{
	"linear": "linear",
	"raid0":  "raid0", "0": "raid0", "stripe": "raid0",
	"raid1": "raid1", "1": "raid1", "mirror": "raid1",
	"raid4": "raid4", "4": "raid4",
	"raid5": "raid5", "5": "raid5",
	"raid6": "raid6", "6": "raid6",
	"raid10": "raid10", "10": "raid10",
}

// createRaids creates (or reuses) the md arrays, one after another (each
// takes a moment; the resync runs in the kernel afterwards).
func (s *stage) createRaids(ctx context.Context, jobs []raidJob) error {
	for _, j := range jobs {
		if err := s.raid(ctx, j); err != nil {
			return fmt.Errorf("%s (%s): %w", j.entry, j.raid.Name, err)
		}
	}
	return nil
}

// mdMember is what mdadm --examine found on one member.
type mdMember struct {
	dev               string
	level, name, uuid string
	raidDevices       int
	none              bool // no md superblock
}

// raid makes one array.
func (s *stage) raid(ctx context.Context, j raidJob) error {
	r := &j.raid
	md := "/dev/md/" + r.Name
	spares := deref(r.Spares)
	active := len(j.devices) - spares
	if active < 1 {
		return fmt.Errorf("%d devices with %d spares leave no active member", len(j.devices), spares)
	}

	members := make([]mdMember, len(j.devices))
	for i, dev := range j.devices {
		members[i] = s.mdExamine(ctx, dev)
	}
	running, err := s.mdRunning(ctx, md)
	if err != nil {
		return err
	}
	uuid, same := sameArray(members, r.Name, mdLevels[deref(r.Level)], active)
	switch {
	case same && running == uuid:
		s.log.Info("%s is already running with these members; keeping it", md)
	case running != "":
		return fmt.Errorf("%s is already running as another array (UUID %s)", md, running)
	case same:
		// Assembled the way it was created (--homehost=any, see below),
		// so it gets the same name.
		argv := []string{distro.MdadmCmd(), "--assemble", md, "--run", "--homehost=any"}
		argv = append(argv, j.devices...)
		err := s.log.LogOp(func() error { return s.cmd.Run(ctx, argv) },
			"assembling the existing array %s (UUID %s) from %s", md, uuid, strings.Join(j.devices, ", "))
		if err != nil {
			return err
		}
	default:
		for _, m := range members {
			if !m.none {
				s.log.Warning("%s was a member of array %q (%s); recreating over it", m.dev, m.name, m.level)
			}
		}
		err := s.log.LogOp(func() error { return s.cmd.Run(ctx, mdadmCreateArgs(md, j)) },
			"creating the %s array %s from %s", deref(r.Level), md, strings.Join(j.devices, ", "))
		if err != nil {
			return err
		}
	}
	_, err = s.device(ctx, md)
	return err
}

// mdadmCreateArgs is the mdadm command that creates the array md.
//
//   - --run: do not ask before using members that hold something (the
//     config says they are this array's).
//   - --force: accept what the config says as it is: a single-member
//     mirror, or raid5 built by a full resync rather than as a degraded
//     array that recovers onto its last member.
//   - --homehost=any: the array's name is stored without the host name
//     of the machine that made it (here: the initramfs), so that every
//     later boot, whatever the host is called then, assembles it as
//     /dev/md/<name> rather than as a foreign array.
//
// The metadata format is mdadm's default (1.2, at the start of each
// member); an array a bootloader or firmware must read as a plain
// filesystem needs "--metadata=1.0" in options, which come last and so
// override any of the above.
func mdadmCreateArgs(md string, j raidJob) []string {
	r := &j.raid
	spares := deref(r.Spares)
	argv := []string{distro.MdadmCmd(), "--create", md, "--run", "--force", "--homehost=any",
		"--level=" + deref(r.Level), "--raid-devices=" + strconv.Itoa(len(j.devices)-spares)}
	if spares > 0 {
		argv = append(argv, "--spare-devices="+strconv.Itoa(spares))
	}
	argv = append(argv, r.Options...)
	return append(argv, j.devices...)
}

// mdExamine reads the md superblock on dev. A device without one (mdadm
// exits non-zero: nothing to examine) is reported as none.
func (s *stage) mdExamine(ctx context.Context, dev string) mdMember {
	out, err := s.cmd.Output(ctx, []string{distro.MdadmCmd(), "--examine", "--export", dev})
	v := parseKeyValues(out)
	if err != nil || v["MD_UUID"] == "" {
		return mdMember{dev: dev, none: true}
	}
	n, _ := strconv.Atoi(v["MD_DEVICES"])
	return mdMember{dev: dev, level: v["MD_LEVEL"], name: v["MD_NAME"], uuid: v["MD_UUID"], raidDevices: n}
}

// mdRunning returns the UUID of the array running as md, or "" if none
// is.
func (s *stage) mdRunning(ctx context.Context, md string) (string, error) {
	out, err := s.cmd.Output(ctx, []string{distro.MdadmCmd(), "--detail", "--export", md})
	if err != nil {
		// No such array (or no md at all): nothing is running there.
		return "", nil
	}
	uuid := parseKeyValues(out)["MD_UUID"]
	if uuid == "" {
		return "", errors.New("mdadm --detail reported an array without a UUID at " + md)
	}
	return uuid, nil
}

// sameArray says whether every member carries the superblock of one
// array with this name, level and number of active members, and returns
// its UUID.
func sameArray(members []mdMember, name, level string, active int) (string, bool) {
	uuid := ""
	for _, m := range members {
		switch {
		case m.none, m.level != level, m.raidDevices != active, !mdNameIs(m.name, name):
			return "", false
		case uuid == "":
			uuid = m.uuid
		case m.uuid != uuid:
			return "", false
		}
	}
	return uuid, uuid != ""
}

// mdNameIs says whether a superblock's name (host:name, or any:name, or
// a bare name) is name.
func mdNameIs(stored, name string) bool {
	if stored == name {
		return true
	}
	_, bare, ok := strings.Cut(stored, ":")
	return ok && bare == name
}
