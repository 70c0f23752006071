package resource

import (
	"context"
	"errors"
	"net/url"

	"github.com/pin/tftp"
)

// tftpScheme fetches tftp:// URLs. (Being written: issue 3.)
type tftpScheme struct{ opts *Options }

var _ = tftp.NewClient

func (t *tftpScheme) open(ctx context.Context, req *Request, u *url.URL) (body, error) {
	return body{}, errors.New("tftp: not implemented yet")
}
