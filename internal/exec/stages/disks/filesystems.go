package disks

import (
	"context"
	"errors"
)

// createFilesystems probes every filesystem, then creates those that
// need it.
func (s *stage) createFilesystems(ctx context.Context, jobs []fsJob) error {
	if len(jobs) == 0 {
		return nil
	}
	return errors.New("storage.filesystems: filesystems are not built yet")
}
