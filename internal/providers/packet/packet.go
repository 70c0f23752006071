// Package packet is the "packet" platform (Equinix Metal, formerly
// Packet): the config is the server's user data, served by the metadata
// service at https://metadata.platformequinix.com/userdata (over TLS, so
// the name must resolve and the certificate must verify; the initramfs
// brings up DNS with the network). No headers or tokens are needed.
// Server errors and refused connections are retried until the fetch
// timeout; a 404 or an empty answer means the server has no user data: no
// user config. Gzip-compressed user data is accepted.
//
// Status, for the caller to run after each stage, reports how the stage
// ended to the server's user state URL, where it shows in the server's
// timeline.
package packet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// MetadataURL is the metadata service.
const MetadataURL = "https://metadata.platformequinix.com"

// Fetch returns the server's user data.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, MetadataURL)
}

func fetchFrom(ctx context.Context, h providers.Host, base string) ([]byte, error) {
	url := base + "/userdata"
	h.Log.Info("fetching the user data from %s", url)
	raw, err := h.Fetcher.FetchBytes(ctx, resource.Request{URL: url}, config.MaxSize)
	if resource.HTTPStatus(err) == http.StatusNotFound {
		h.Log.Info("the server has no user data (%s answered 404)", url)
		return nil, fmt.Errorf("%w: the server has no user data", providers.ErrNoConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("the metadata service: %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: the server's user data is empty", providers.ErrNoConfig)
	}
	return providers.MaybeGunzip(raw)
}

// statusTimeout bounds a status report, which must not hold up boot (the
// metadata service answers at once when it is there at all).
const statusTimeout = 5 * time.Second

// maxMessage bounds a status message: it is a timeline entry, and a
// stage's error can run long.
const maxMessage = 2000

// userState is a user state event, as Equinix documents it: state is
// "running", "succeeded" or "failed"; message is free text.
type userState struct {
	State   string `json:"state"`
	Message string `json:"message"`
}

// Status reports how stage ended as a user state event: it reads
// user_state_url from the server's metadata (https://metadata.platformequinix.com/metadata)
// and POSTs {"state": "running"} after a stage that succeeded (provisioning
// goes on) or {"state": "failed"} with the error after one that failed.
// Reporting is best effort: the caller logs a failure and goes on. A
// stage without the network (fetch-offline) reports nothing.
func Status(ctx context.Context, h providers.Host, stage string, stageErr error) error {
	return statusTo(ctx, h, MetadataURL, stage, stageErr)
}

func statusTo(ctx context.Context, h providers.Host, base, stage string, stageErr error) error {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	raw, err := h.Fetcher.FetchBytes(ctx, resource.Request{URL: base + "/metadata"}, config.MaxSize)
	if errors.Is(err, resource.ErrNeedsNetwork) {
		h.Log.Info("not reporting the %s stage's status: it runs without the network", stage)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the user state URL from the metadata: %w", err)
	}
	var md struct {
		UserStateURL string `json:"user_state_url"`
	}
	if err := json.Unmarshal(raw, &md); err != nil {
		return fmt.Errorf("reading the user state URL from %s/metadata: %w", base, err)
	}
	if md.UserStateURL == "" {
		return fmt.Errorf("%s/metadata has no user_state_url", base)
	}

	ev := userState{State: "running", Message: "Ignition " + stage + ": finished"}
	if stageErr != nil {
		// One line, as the timeline shows it: a config's report has one
		// line per problem.
		lines := strings.Split(strings.TrimSpace(stageErr.Error()), "\n")
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		ev = userState{State: "failed", Message: "Ignition " + stage + " failed: " + strings.Join(lines, "; ")}
	}
	if len(ev.Message) > maxMessage {
		ev.Message = ev.Message[:maxMessage-3] + "..."
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, md.UserStateURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("user state URL %q: %w", md.UserStateURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	h.Log.Info("reporting state %q to %s", ev.State, md.UserStateURL)
	// The fetcher only reads; this one POST goes out on its own.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("posting the %s stage's state: %w", stage, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("posting the %s stage's state to %s: %s", stage, md.UserStateURL, resp.Status)
	}
	return nil
}
