package resource

import (
	"errors"
	"fmt"
)

var (
	// ErrNeedsNetwork is returned in offline mode for any resource that is
	// not a data URL; the fetch-offline stage turns it into "retry with the
	// network up".
	ErrNeedsNetwork = errors.New("resource needs the network")
	// ErrTooLarge is returned when a buffered fetch passes its limit.
	ErrTooLarge = errors.New("resource is larger than allowed")
	// ErrUnsupportedScheme is returned for a URL scheme with no handler.
	ErrUnsupportedScheme = errors.New("unsupported URL scheme")
)

// HashMismatchError is a fetched resource whose hash is not the expected one.
type HashMismatchError struct {
	Want, Got string
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("hash mismatch: expected %s, got %s", e.Want, e.Got)
}

// StatusError is an http(s) answer other than the one asked for, so that
// a caller can tell "not found" (often "the user gave none" for metadata
// services) from a failure.
type StatusError struct {
	Code   int    // e.g. 404
	Status string // e.g. "404 Not Found"
}

func (e *StatusError) Error() string { return "server returned " + e.Status }

// HTTPStatus returns the status code of the http(s) answer that made err,
// or 0 when err did not come from one.
func HTTPStatus(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// retryable marks an error that may go away if the fetch is tried again:
// connection failures, 5xx answers, bodies cut short.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

// Retryable wraps err so the fetcher tries again (for scheme handlers).
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return retryable{err}
}

// IsRetryable reports whether err was marked retryable.
func IsRetryable(err error) bool {
	var r retryable
	return errors.As(err, &r)
}
