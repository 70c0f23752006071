package resource

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/vincent-petithory/dataurl"
)

// dataScheme serves RFC 2397 data URLs, which carry their bytes inline.
type dataScheme struct{}

func (dataScheme) open(_ context.Context, req *Request, _ *url.URL) (body, error) {
	du, err := dataurl.DecodeString(req.URL)
	if err != nil {
		return body{}, fmt.Errorf("decoding data URL: %w", err)
	}
	return body{ReadCloser: io.NopCloser(bytes.NewReader(du.Data))}, nil
}
