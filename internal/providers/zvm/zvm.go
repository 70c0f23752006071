// Package zvm is the "zvm" platform: Linux guests of IBM z/VM. The user
// sends the config to the guest's virtual card reader (in most guests
// device 000c), for example from a CMS or Linux guest with
// `vmur punch -r -u GUEST -N config.ign config.ign`, which spools it as
// the reader file CONFIG IGN.
//
// The guest reads its reader with the s390-tools' vmur command. It needs
// the vmur kernel module (loaded here with modprobe) and the reader
// online: set here with chccwdev -e 000c, after taking the device off the
// I/O ignore list (cio_ignore -r 000c) when chccwdev cannot see it.
//
//	vmur list                  the reader's spool files, one a line
//	vmur receive -f ID FILE    copy spool file ID into FILE
//
// The first spool file whose type is IGN is the config (receiving it takes
// it off the reader). A reader without one means the user gave no config.
// The file is received as is (punched with -r, it is byte for byte the
// config), and the NUL bytes padding its last card are dropped.
package zvm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
)

const (
	vmurCmd      = "vmur"
	modprobeCmd  = "modprobe"
	chccwdevCmd  = "chccwdev"
	cioIgnoreCmd = "cio_ignore"
	udevadmCmd   = "udevadm"
	module       = "vmur"
	// readerDevice is the guest's virtual card reader.
	readerDevice = "000c"
	// configType is the CMS file type that marks the config.
	configType = "IGN"
)

// Fetch receives the config from the reader, or returns ErrNoConfig.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	if err := h.Cmd().Run(ctx, []string{modprobeCmd, module}); err != nil {
		h.Log.Warning("loading the %s module: %v", module, err)
	}
	if err := readerOnline(ctx, h); err != nil {
		return nil, err
	}
	out, err := h.Cmd().Output(ctx, []string{vmurCmd, "list"})
	if err != nil {
		return nil, fmt.Errorf("listing the z/VM reader (is the reader device online?): %w", err)
	}
	files, err := parseList(string(out))
	if err != nil {
		return nil, fmt.Errorf("listing the z/VM reader: %w", err)
	}
	var id string
	for _, f := range files {
		if strings.EqualFold(f.typ, configType) {
			id = f.id
			h.Log.Info("the z/VM reader's spool file %s (%s %s) is the config", f.id, f.name, f.typ)
			break
		}
	}
	if id == "" {
		return nil, fmt.Errorf("%w: the z/VM reader has no file of type %s (%d files)", providers.ErrNoConfig, configType, len(files))
	}

	dir, err := os.MkdirTemp("", "ignition-zvm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dest := filepath.Join(dir, "config.ign")
	if err := h.Cmd().Run(ctx, []string{vmurCmd, "receive", "-f", id, dest}); err != nil {
		return nil, fmt.Errorf("receiving the z/VM reader's spool file %s: %w", id, err)
	}
	raw, err := config.ReadFile(dest)
	if err != nil {
		return nil, fmt.Errorf("reading the z/VM reader's spool file %s: %w", id, err)
	}
	return providers.MaybeGunzip(bytes.TrimRight(raw, "\x00"))
}

// readerOnline sets the reader online; a device the kernel was told to
// ignore (cio_ignore, as installers set it) is first taken off that list.
func readerOnline(ctx context.Context, h providers.Host) error {
	online := []string{chccwdevCmd, "-e", readerDevice}
	if err := h.Cmd().Run(ctx, online); err != nil {
		h.Log.Info("setting the reader %s online: %v; taking it off the I/O ignore list", readerDevice, err)
		if err := h.Cmd().Run(ctx, []string{cioIgnoreCmd, "-r", readerDevice}); err != nil {
			return fmt.Errorf("taking the z/VM reader %s off the I/O ignore list: %w", readerDevice, err)
		}
		if err := h.Cmd().Run(ctx, online); err != nil {
			return fmt.Errorf("setting the z/VM reader %s online: %w", readerDevice, err)
		}
	}
	if err := h.Cmd().Run(ctx, []string{udevadmCmd, "settle"}); err != nil {
		h.Log.Warning("waiting for udev: %v", err)
	}
	return nil
}

// spoolFile is one line of `vmur list`.
type spoolFile struct{ id, name, typ string }

// parseList parses `vmur list`: a header line naming the columns
// (ORIGINID FILE CLASS RECORDS CPY HOLD DATE TIME NAME TYPE DIST), then a
// line per spool file. CLASS is two words ("A PUN"); NAME, TYPE and DIST
// may be blank, so the optional columns are found by the header's
// character positions rather than by counting words.
func parseList(out string) ([]spoolFile, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		return nil, nil // an empty reader may print nothing
	}
	head := lines[0]
	col := func(name string) int { return strings.Index(head, name) }
	fileCol, nameCol, typeCol, distCol := col("FILE"), col("NAME"), col("TYPE"), col("DIST")
	if fileCol < 0 || nameCol < 0 || typeCol < 0 {
		return nil, fmt.Errorf("unexpected output of vmur list: %q", head)
	}
	field := func(line string, from, to int) string {
		if from >= len(line) {
			return ""
		}
		if to < 0 || to > len(line) {
			to = len(line)
		}
		return strings.TrimSpace(line[from:to])
	}
	var files []spoolFile
	for _, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		words := strings.Fields(line[min(fileCol, len(line)):])
		if len(words) == 0 {
			return nil, fmt.Errorf("unexpected line in vmur list: %q", line)
		}
		files = append(files, spoolFile{
			id:   words[0],
			name: field(line, nameCol, typeCol),
			typ:  field(line, typeCol, distCol),
		})
	}
	return files, nil
}
