package disks

import (
	"context"
	"errors"

	"github.com/ignition-go/ignition/config/types"
)

// diskPlan is what will be done to one disk's partition table.
type diskPlan struct {
	entry  string // "storage.disks.0"
	disk   types.Disk
	device string
}

// planDisk reads dev's partition table and works out the changes d asks
// for, failing (without writing anything) when they are not allowed.
func (s *stage) planDisk(ctx context.Context, entry string, d types.Disk, dev string) (*diskPlan, error) {
	return nil, errors.New("partitioning is not built yet")
}

// applyDisk writes p's changes and waits for the kernel to see them.
func (s *stage) applyDisk(ctx context.Context, p *diskPlan) error {
	return errors.New("partitioning is not built yet")
}
