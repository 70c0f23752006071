package resource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Job is one resource to fetch into one file.
type Job struct {
	Request
	// Dest is replaced atomically with the resource (see FetchToFile).
	Dest string
	FileOptions
}

// FetchAll runs the jobs concurrently (at most Options.Concurrency at
// once) over the shared connection pool. Jobs that ask for the same bytes
// (same URL, hash, compression and headers) are fetched once: the first
// job's verified file is copied for the others. Each destination is either
// fully replaced or left as it was; the error joins every job's failure.
func (f *Fetcher) FetchAll(ctx context.Context, jobs []Job) error {
	groups := map[string][]int{}
	var order []string
	for i := range jobs {
		k := jobs[i].key()
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}

	sem := make(chan struct{}, f.opts.Concurrency)
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for _, k := range order {
		idx := groups[k]
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				for _, i := range idx {
					errs[i] = &Error{Path: jobs[i].Path, URL: Redact(jobs[i].URL), Err: ctx.Err()}
				}
				return
			}
			defer func() { <-sem }()
			f.fetchGroup(ctx, jobs, idx, errs)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// fetchGroup fetches the first job of a group of identical requests and
// copies the result for the others before the first is renamed into place.
func (f *Fetcher) fetchGroup(ctx context.Context, jobs []Job, idx []int, errs []error) {
	first := &jobs[idx[0]]
	fetched := false
	errs[idx[0]] = writeAtomic(first.Dest, first.FileOptions, func(tmp *os.File) error {
		s, err := NewFileSink(tmp)
		if err != nil {
			return err
		}
		if err := f.Fetch(ctx, first.Request, s); err != nil {
			return err
		}
		fetched = true
		// The temp file now holds verified bytes: give them to the others.
		for _, i := range idx[1:] {
			errs[i] = copyJob(&jobs[i], tmp)
		}
		return nil
	})
	if !fetched {
		// The others were never copied. (Once fetched, each copy landed
		// or failed on its own, whatever became of the first job's file.)
		for _, i := range idx[1:] {
			errs[i] = &Error{Path: jobs[i].Path, URL: Redact(jobs[i].URL), Err: fmt.Errorf("same resource as %s failed", first.Path)}
		}
	}
}

// copyJob writes the verified contents of src into job's destination.
func copyJob(job *Job, src *os.File) error {
	return writeAtomic(job.Dest, job.FileOptions, func(tmp *os.File) error {
		if _, err := io.Copy(tmp, io.NewSectionReader(src, 0, 1<<62)); err != nil {
			return &Error{Path: job.Path, URL: Redact(job.URL), Err: fmt.Errorf("copying: %w", err)}
		}
		return nil
	})
}
