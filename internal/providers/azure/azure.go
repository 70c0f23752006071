// Package azure is the "azure" platform (Microsoft Azure). The config is
// the VM's user data, served by the Instance Metadata Service (IMDS) at
// http://169.254.169.254/metadata/instance/compute/userData?api-version=2021-01-01&format=text,
// base64-encoded. Every IMDS request carries "Metadata: true" (without it
// the IMDS answers 400). Per Azure's IMDS documentation, 404, 410 and 429
// and server errors are retried (the IMDS answers them while it starts or
// throttles), until the fetch timeout.
//
// VMs provisioned with the older "custom data" instead have it in
// ovf-env.xml (the CustomData element, base64) on the provisioning CD-ROM,
// a UDF (or ISO 9660) filesystem. When the IMDS has no user data (an empty
// answer), that CD is read; when the IMDS cannot be reached but the CD
// has custom data, the IMDS is given at most imdsGrace before the custom
// data is used. Neither: no user config. Gzip-compressed data is accepted
// from both.
package azure

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// IMDSURL is the Instance Metadata Service.
const IMDSURL = "http://169.254.169.254"

const userDataPath = "/metadata/instance/compute/userData?api-version=2021-01-01&format=text"

// imdsRetry are the status codes Azure documents as transient for the IMDS.
var imdsRetry = []int{http.StatusNotFound, http.StatusGone, http.StatusTooManyRequests}

// imdsGrace bounds the wait for the IMDS when the CD already has custom
// data to fall back on.
const imdsGrace = 30 * time.Second

// ovfFile is the provisioning CD's OVF environment.
const ovfFile = "ovf-env.xml"

// Fetch returns the VM's user data, or else its custom data.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetch(ctx, h, IMDSURL, CustomData, imdsGrace)
}

// fetch is Fetch with the IMDS at base, the CD read by customData and the
// IMDS given grace when the CD has custom data.
func fetch(ctx context.Context, h providers.Host, base string, customData providers.Fetch, grace time.Duration) ([]byte, error) {
	custom, cerr := customData(ctx, h)
	if cerr != nil && !errors.Is(cerr, providers.ErrNoConfig) {
		return nil, cerr
	}
	ictx := ctx
	if cerr == nil {
		var cancel context.CancelFunc
		ictx, cancel = context.WithTimeout(ctx, grace)
		defer cancel()
	}
	raw, ierr := userData(ictx, h, base)
	switch {
	case errors.Is(ierr, resource.ErrNeedsNetwork):
		// fetch-offline: the fetch stage asks the IMDS first, then
		// maybe uses the custom data.
		return nil, ierr
	case ierr != nil && cerr == nil:
		h.Log.Warning("%v; using the custom data from the provisioning CD", ierr)
		return custom, nil
	case ierr != nil:
		return nil, ierr
	}
	// A garbled answer is an error even with custom data at hand: the
	// IMDS did answer, and it is what the user data is meant to come from.
	user, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("the IMDS user data from %s is not base64: %w", resource.Redact(base+userDataPath), err)
	}
	switch {
	case len(user) > 0:
		return providers.MaybeGunzip(user)
	case cerr == nil:
		h.Log.Info("the IMDS has no user data; using the custom data from the provisioning CD")
		return custom, nil
	}
	return nil, fmt.Errorf("%w: no user data in the IMDS and no custom data on a provisioning CD", providers.ErrNoConfig)
}

// userData returns the IMDS's answer for the user data: base64, empty if
// there is none.
func userData(ctx context.Context, h providers.Host, base string) ([]byte, error) {
	req := resource.Request{
		URL:         base + userDataPath,
		Headers:     http.Header{"Metadata": {"true"}},
		RetryStatus: imdsRetry,
	}
	h.Log.Info("fetching the user data from the IMDS at %s", resource.Redact(req.URL))
	// base64 is 4/3 of the config, which is bounded by config.MaxSize.
	raw, err := h.Fetcher.FetchBytes(ctx, req, config.MaxSize/3*4+4)
	if err != nil {
		return nil, fmt.Errorf("the IMDS user data: %w", err)
	}
	return raw, nil
}

// CustomData returns the custom data from the provisioning CD's
// ovf-env.xml, decompressed if it was gzipped, or an error wrapping
// providers.ErrNoConfig when there is no such CD or it holds none. The
// CD is found by filesystem type (its label varies); each UDF or ISO 9660
// filesystem is looked at until one has ovf-env.xml.
func CustomData(ctx context.Context, h providers.Host) ([]byte, error) {
	var labels []string
	for _, typ := range []string{"udf", "iso9660"} {
		out, err := h.Cmd().Output(ctx, []string{distro.BlkidCmd(), "-c", "/dev/null", "-o", "value", "-s", "LABEL", "-t", "TYPE=" + typ})
		if err != nil {
			continue // blkid exits 2 when nothing matches
		}
		for _, l := range strings.Split(string(out), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
	}
	for _, label := range labels {
		raw, err := providers.ReadFromDrive(ctx, h, ovfFile, label)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, providers.ErrNoDrive) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("provisioning CD %q: %w", label, err)
		}
		data, found, err := parseOVF(raw)
		if err != nil {
			return nil, fmt.Errorf("provisioning CD %q: %s: %w", label, ovfFile, err)
		}
		if !found {
			h.Log.Info("the provisioning CD %q has no custom data", label)
			return nil, fmt.Errorf("%w: the provisioning CD has no custom data", providers.ErrNoConfig)
		}
		h.Log.Info("using the custom data from the provisioning CD %q", label)
		return providers.MaybeGunzip(data)
	}
	return nil, fmt.Errorf("%w: no provisioning CD with %s", providers.ErrNoConfig, ovfFile)
}

// parseOVF returns the base64-decoded text of the CustomData element of
// an OVF environment (whatever its namespace prefix); found is false when
// there is no such element or it is empty.
func parseOVF(raw []byte) (data []byte, found bool, err error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("parsing XML: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "CustomData" {
			continue
		}
		var text string
		if err := d.DecodeElement(&text, &se); err != nil {
			return nil, false, fmt.Errorf("parsing CustomData: %w", err)
		}
		text = strings.Join(strings.Fields(text), "")
		if text == "" {
			return nil, false, nil
		}
		out, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, false, fmt.Errorf("CustomData is not base64: %w", err)
		}
		return out, true, nil
	}
}
