package resource

import (
	"context"
	"errors"
	"net/url"

	"cloud.google.com/go/compute/metadata"
)

// gsScheme fetches gs:// URLs. (Being written: issue 3.)
type gsScheme struct{ opts *Options }

var _ = metadata.NewClient

func (g *gsScheme) open(ctx context.Context, req *Request, u *url.URL) (body, error) {
	return body{}, errors.New("gs: not implemented yet")
}
