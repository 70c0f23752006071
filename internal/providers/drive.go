package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/distro"
)

// ErrNoDrive is returned by ReadFromDrive when no filesystem has any of
// the labels asked for.
var ErrNoDrive = errors.New("no config drive")

// FindDrive returns the device of the first filesystem (in the order of
// labels) that carries one of labels, asking blkid without its cache;
// ErrNoDrive when there is none, another error when blkid could not look.
func FindDrive(ctx context.Context, h Host, labels ...string) (string, error) {
	for _, label := range labels {
		out, err := h.Cmd().Output(ctx, []string{distro.BlkidCmd(), "-c", "/dev/null", "-o", "device", "-t", "LABEL=" + label})
		var exit interface{ ExitCode() int }
		if errors.As(err, &exit) && exit.ExitCode() == 2 {
			continue // blkid's "nothing matched"
		}
		if err != nil {
			// A missing blkid or a cancelled context is not "no drive":
			// saying so would provision the machine without its config.
			return "", fmt.Errorf("looking for a filesystem labelled %s: %w", label, err)
		}
		if devs := strings.Fields(string(out)); len(devs) > 0 {
			return devs[0], nil
		}
	}
	return "", fmt.Errorf("%w labelled %s", ErrNoDrive, strings.Join(labels, " or "))
}

// ReadFromDrive reads a file from a config drive: the filesystem labelled
// with one of labels is mounted read-only in a private temp dir, the file
// at path (relative to the drive's root) is read, and the drive is
// unmounted. It returns ErrNoDrive when there is no such drive, and an
// error wrapping fs.ErrNotExist when the drive lacks the file.
func ReadFromDrive(ctx context.Context, h Host, path string, labels ...string) ([]byte, error) {
	dev, err := FindDrive(ctx, h, labels...)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ignition-drive-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(dir)
	h.Log.Info("mounting config drive %s read-only at %s", dev, dir)
	if err := h.Cmd().Run(ctx, []string{distro.MountCmd(), "-o", "ro", dev, dir}); err != nil {
		return nil, fmt.Errorf("mounting config drive %s: %w", dev, err)
	}
	defer func() {
		if err := h.Cmd().Run(context.WithoutCancel(ctx), []string{distro.UmountCmd(), dir}); err != nil {
			h.Log.Warning("unmounting config drive %s: %v", dev, err)
		}
	}()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(filepath.Clean(strings.TrimPrefix(path, "/")))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("config drive %s has no %s: %w", dev, path, err)
		}
		return nil, fmt.Errorf("config drive %s: %w", dev, err)
	}
	defer f.Close()
	raw, err := config.ReadFrom(f)
	if err != nil {
		return nil, fmt.Errorf("config drive %s: %s: %w", dev, path, err)
	}
	return raw, nil
}

// UserDataFromDrive returns the user data kept in the file at path on the
// config drive labelled with one of labels, decompressed if gzipped. A
// missing drive, a drive without the file and an empty file all mean the
// user gave no user data there: the error then wraps ErrNoConfig (and
// ErrNoDrive or fs.ErrNotExist), so a provider can try its next source.
func UserDataFromDrive(ctx context.Context, h Host, path string, labels ...string) ([]byte, error) {
	raw, err := ReadFromDrive(ctx, h, path, labels...)
	if errors.Is(err, ErrNoDrive) || errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrNoConfig, err)
	}
	if err != nil {
		return nil, err
	}
	cfg, err := MaybeGunzip(raw)
	if err != nil {
		return nil, fmt.Errorf("%s on the config drive labelled %s: %w", path, strings.Join(labels, " or "), err)
	}
	if len(bytes.TrimSpace(cfg)) == 0 {
		return nil, fmt.Errorf("%w: %s on the config drive labelled %s is empty", ErrNoConfig, path, strings.Join(labels, " or "))
	}
	return cfg, nil
}
