// Package virtualbox is the "virtualbox" platform. The user sets the
// config as the VM's guest property /Ignition/Config, from the host:
//
//	VBoxManage guestproperty set VM /Ignition/Config "$(cat config.ign)"
//
// The guest reads guest properties from the host's guest property service
// ("VBoxGuestPropSvc") over HGCM, through the vboxguest driver's device
// /dev/vboxguest (in Linux since 4.16; loaded here with modprobe): connect
// to the service, call its GET_PROP function, disconnect. A property that
// does not exist means the user gave no config. The ioctl ABI is Linux's
// include/uapi/linux/vbox_guest.h and vbox_vmmdev_types.h.
//
// Guest properties are readable by any guest user with access to the
// service, so once provisioning succeeded DeleteConfig (ignition-rmcfg)
// deletes the property with the service's DEL_PROP function.
package virtualbox

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ignition-go/ignition/internal/providers"
)

// Property is the guest property holding the config.
const Property = "/Ignition/Config"

// EncodingProperty names an encoding of Property, analogous to VMware's
// ignition.config.data.encoding. None is defined for VirtualBox yet, so a
// value there is refused rather than misread (as Ignition does), and the
// property is deleted with the config.
const EncodingProperty = "/Ignition/Config/Encoding"

// Device is the vboxguest driver's device.
const Device = "/dev/vboxguest"

const (
	modprobeCmd = "modprobe"
	module      = "vboxguest"
)

// errNotFound is what a property store returns for a missing property.
var errNotFound = errors.New("no such guest property")

// properties is the host's guest property service.
type properties interface {
	// Get returns a property's value, or an error wrapping errNotFound.
	Get(name string) (string, error)
	// Delete deletes a property; deleting a missing one is no error.
	Delete(name string) error
	Close() error
}

// open connects to the guest property service through the real device.
func open() (properties, error) { return openHGCM(Device) }

// Fetch returns the config from the guest property, or ErrNoConfig.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetch(ctx, h, open)
}

// DeleteConfig deletes the guest property.
func DeleteConfig(ctx context.Context, h providers.Host) error {
	return deleteConfig(ctx, h, open)
}

func connect(ctx context.Context, h providers.Host, open func() (properties, error)) (properties, error) {
	if err := h.Cmd().Run(ctx, []string{modprobeCmd, module}); err != nil {
		h.Log.Warning("loading %s: %v", module, err)
	}
	p, err := open()
	if err != nil {
		return nil, fmt.Errorf("connecting to VirtualBox's guest property service through %s: %w", Device, err)
	}
	return p, nil
}

func fetch(ctx context.Context, h providers.Host, open func() (properties, error)) ([]byte, error) {
	p, err := connect(ctx, h, open)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	switch enc, err := p.Get(EncodingProperty); {
	case errors.Is(err, errNotFound), err == nil && enc == "":
	case err != nil:
		return nil, fmt.Errorf("reading the guest property %s: %w", EncodingProperty, err)
	default:
		return nil, fmt.Errorf("the guest property %s is %q, but no encoding is supported: set %s to the config itself", EncodingProperty, enc, Property)
	}
	h.Log.Info("reading the config from the guest property %s", Property)
	v, err := p.Get(Property)
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("%w: the guest property %s is not set", providers.ErrNoConfig, Property)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the guest property %s: %w", Property, err)
	}
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%w: the guest property %s is empty", providers.ErrNoConfig, Property)
	}
	return providers.MaybeGunzip([]byte(v))
}

func deleteConfig(ctx context.Context, h providers.Host, open func() (properties, error)) error {
	p, err := connect(ctx, h, open)
	if err != nil {
		return err
	}
	defer p.Close()
	for _, name := range []string{Property, EncodingProperty} {
		if err := p.Delete(name); err != nil {
			return fmt.Errorf("deleting the guest property %s: %w", name, err)
		}
	}
	h.Log.Info("deleted the guest properties %s and %s", Property, EncodingProperty)
	return nil
}
