// Package aws is the "aws" platform (Amazon EC2): the config is the
// instance's user data, served by the instance metadata service (IMDS) at
// http://169.254.169.254/latest/user-data.
//
// The IMDSv2 protocol is used: a session token is asked for with
// PUT /latest/api/token carrying X-aws-ec2-metadata-token-ttl-seconds, and
// the user data is then read with the token in X-aws-ec2-metadata-token.
// Instances may require IMDSv2 (httpTokens=required), so the token is
// always asked for first. Only when the token PUT is refused the way a
// service without IMDSv2 refuses it (403, 404 or 405: the AWS SDKs fall
// back on those too) is the user data read without a token (IMDSv1).
// Server errors and refused connections are retried until the fetch
// timeout (the IMDS may not answer yet early in boot).
//
// A 404 for the user data means the instance has none: no user config.
// Gzip-compressed user data is accepted (EC2 limits user data to 16 KiB).
//
// The S3 fetcher needs the instance's region (where to ask about buckets,
// and which partition an s3:// URL means: aws-cn in China). It asks the
// IMDS itself, in every fetcher of every stage (internal/resource), so
// this provider has nothing to pass on; tests/providers checks that an
// s3:// config on an instance in China is fetched from S3 China.
package aws

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// IMDSURL is the instance metadata service.
const IMDSURL = "http://169.254.169.254"

// The IMDSv2 headers, and how long the token asked for lives (seconds; it
// only has to outlive this fetch).
const (
	tokenTTLHeader = "X-aws-ec2-metadata-token-ttl-seconds"
	tokenHeader    = "X-aws-ec2-metadata-token"
	tokenTTL       = "300"
)

// Fetch returns the instance's user data.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, IMDSURL)
}

func fetchFrom(ctx context.Context, h providers.Host, base string) ([]byte, error) {
	token, err := sessionToken(ctx, h, base)
	if err != nil {
		return nil, err
	}
	req := resource.Request{URL: base + "/latest/user-data"}
	if token != "" {
		req.Headers = http.Header{tokenHeader: {token}}
	}
	h.Log.Info("fetching the user data from %s", req.URL)
	raw, err := h.Fetcher.FetchBytes(ctx, req, config.MaxSize)
	if resource.HTTPStatus(err) == http.StatusNotFound {
		h.Log.Info("the instance has no user data (%s answered 404)", req.URL)
		return nil, fmt.Errorf("%w: the instance has no user data", providers.ErrNoConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("the instance metadata service: %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: the instance's user data is empty", providers.ErrNoConfig)
	}
	return providers.MaybeGunzip(raw)
}

// sessionToken asks for an IMDSv2 token; "" (and no error) means the
// service refused it the way an IMDSv1-only service does.
func sessionToken(ctx context.Context, h providers.Host, base string) (string, error) {
	req := resource.Request{
		URL:     base + "/latest/api/token",
		Method:  http.MethodPut,
		Headers: http.Header{tokenTTLHeader: {tokenTTL}},
	}
	raw, err := h.Fetcher.FetchBytes(ctx, req, 4096)
	switch resource.HTTPStatus(err) {
	case http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
		h.Log.Warning("the metadata service refused an IMDSv2 token (%v); reading the user data with IMDSv1", err)
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("getting an IMDSv2 token: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return "", fmt.Errorf("getting an IMDSv2 token: %s sent an empty token", req.URL)
	}
	return token, nil
}
