// Package types is the canonical config model: the superset of every spec
// version we accept (3.0.0 through 3.7.0-experimental). Code above config/
// sees only these types; which fields and values a given version allows is
// described in config/v3_*/ and enforced while parsing.
//
// Optional fields are pointers so that "unset" differs from the zero value:
// merging needs that difference, and so do defaults (a file mode that is
// unset means 0644 or "keep the existing mode").
package types

// Config is a whole Ignition config.
type Config struct {
	Ignition        Ignition        `json:"ignition"`
	KernelArguments KernelArguments `json:"kernelArguments,omitzero"`
	Passwd          Passwd          `json:"passwd,omitzero"`
	Storage         Storage         `json:"storage,omitzero"`
	Systemd         Systemd         `json:"systemd,omitzero"`
}

// Ignition holds metadata about the config itself.
type Ignition struct {
	Version  string         `json:"version"`
	Config   IgnitionConfig `json:"config,omitzero"`
	Proxy    Proxy          `json:"proxy,omitzero"`
	Security Security       `json:"security,omitzero"`
	Timeouts Timeouts       `json:"timeouts,omitzero"`
}

// IgnitionConfig names configs to merge into, or to replace, this one.
type IgnitionConfig struct {
	Merge   []Resource `json:"merge,omitempty"`
	Replace Resource   `json:"replace,omitzero"`
}

// Proxy configures HTTP(S) proxies for fetches.
type Proxy struct {
	HTTPProxy  *string  `json:"httpProxy,omitempty"`
	HTTPSProxy *string  `json:"httpsProxy,omitempty"`
	NoProxy    []string `json:"noProxy,omitempty"`
}

// Security holds TLS settings.
type Security struct {
	TLS TLS `json:"tls,omitzero"`
}

// TLS lists extra certificate authorities.
type TLS struct {
	CertificateAuthorities []Resource `json:"certificateAuthorities,omitempty"`
}

// Timeouts for HTTP fetches, in seconds.
type Timeouts struct {
	HTTPResponseHeaders *int `json:"httpResponseHeaders,omitempty"`
	HTTPTotal           *int `json:"httpTotal,omitempty"`
}

// Resource is anything fetched by URL: configs, CA bundles, file contents,
// appended fragments and key files.
type Resource struct {
	Source       *string      `json:"source,omitempty"`
	Compression  *string      `json:"compression,omitempty"`
	HTTPHeaders  []HTTPHeader `json:"httpHeaders,omitempty"`
	Verification Verification `json:"verification,omitzero"`
}

// HTTPHeader is one header sent with an http(s) fetch. A nil Value in a
// merged child config removes the parent's header of that name.
type HTTPHeader struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}

// Verification says how fetched bytes are checked.
type Verification struct {
	Hash *string `json:"hash,omitempty"`
}

// KernelArguments lists arguments that should and should not be present.
type KernelArguments struct {
	ShouldExist    []string `json:"shouldExist,omitempty"`
	ShouldNotExist []string `json:"shouldNotExist,omitempty"`
}

// Passwd lists users and groups.
type Passwd struct {
	Users  []PasswdUser  `json:"users,omitempty"`
	Groups []PasswdGroup `json:"groups,omitempty"`
}

// PasswdUser is one account.
type PasswdUser struct {
	Name              string   `json:"name"`
	PasswordHash      *string  `json:"passwordHash,omitempty"`
	SSHAuthorizedKeys []string `json:"sshAuthorizedKeys,omitempty"`
	UID               *int     `json:"uid,omitempty"`
	Gecos             *string  `json:"gecos,omitempty"`
	HomeDir           *string  `json:"homeDir,omitempty"`
	NoCreateHome      *bool    `json:"noCreateHome,omitempty"`
	PrimaryGroup      *string  `json:"primaryGroup,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	NoUserGroup       *bool    `json:"noUserGroup,omitempty"`
	NoLogInit         *bool    `json:"noLogInit,omitempty"`
	Shell             *string  `json:"shell,omitempty"`
	ShouldExist       *bool    `json:"shouldExist,omitempty"`
	System            *bool    `json:"system,omitempty"`
}

// PasswdGroup is one group.
type PasswdGroup struct {
	Name         string  `json:"name"`
	Gid          *int    `json:"gid,omitempty"`
	PasswordHash *string `json:"passwordHash,omitempty"`
	ShouldExist  *bool   `json:"shouldExist,omitempty"`
	System       *bool   `json:"system,omitempty"`
}

// Storage describes disks, arrays, encrypted volumes, filesystems and the
// files, directories and links written into them.
type Storage struct {
	Disks       []Disk       `json:"disks,omitempty"`
	Raid        []Raid       `json:"raid,omitempty"`
	Luks        []Luks       `json:"luks,omitempty"`
	Filesystems []Filesystem `json:"filesystems,omitempty"`
	Files       []File       `json:"files,omitempty"`
	Directories []Directory  `json:"directories,omitempty"`
	Links       []Link       `json:"links,omitempty"`
}

// Disk is a block device and its partition table.
type Disk struct {
	Device     string      `json:"device"`
	WipeTable  *bool       `json:"wipeTable,omitempty"`
	Partitions []Partition `json:"partitions,omitempty"`
}

// Partition is one GPT entry.
type Partition struct {
	Label              *string `json:"label,omitempty"`
	Number             int     `json:"number,omitempty"`
	SizeMiB            *int    `json:"sizeMiB,omitempty"`
	StartMiB           *int    `json:"startMiB,omitempty"`
	TypeGUID           *string `json:"typeGuid,omitempty"`
	GUID               *string `json:"guid,omitempty"`
	WipePartitionEntry *bool   `json:"wipePartitionEntry,omitempty"`
	ShouldExist        *bool   `json:"shouldExist,omitempty"`
	Resize             *bool   `json:"resize,omitempty"`
}

// Raid is one md array.
type Raid struct {
	Name    string   `json:"name"`
	Level   *string  `json:"level,omitempty"`
	Devices []string `json:"devices,omitempty"`
	Spares  *int     `json:"spares,omitempty"`
	Options []string `json:"options,omitempty"`
}

// Luks is one LUKS2 volume.
type Luks struct {
	Name        string   `json:"name"`
	Device      *string  `json:"device,omitempty"`
	KeyFile     Resource `json:"keyFile,omitzero"`
	Label       *string  `json:"label,omitempty"`
	UUID        *string  `json:"uuid,omitempty"`
	Options     []string `json:"options,omitempty"`
	Discard     *bool    `json:"discard,omitempty"`
	OpenOptions []string `json:"openOptions,omitempty"`
	WipeVolume  *bool    `json:"wipeVolume,omitempty"`
	Clevis      Clevis   `json:"clevis,omitzero"`
	Cex         Cex      `json:"cex,omitzero"`
}

// Clevis binds a LUKS volume to TPM2 and/or Tang servers, or to a custom pin.
type Clevis struct {
	Custom    ClevisCustom `json:"custom,omitzero"`
	Tang      []Tang       `json:"tang,omitempty"`
	Threshold *int         `json:"threshold,omitempty"`
	Tpm2      *bool        `json:"tpm2,omitempty"`
}

// ClevisCustom passes a pin and its JSON config straight to clevis.
type ClevisCustom struct {
	Config       *string `json:"config,omitempty"`
	NeedsNetwork *bool   `json:"needsNetwork,omitempty"`
	Pin          *string `json:"pin,omitempty"`
}

// Tang is one Tang server.
type Tang struct {
	URL           string  `json:"url"`
	Thumbprint    *string `json:"thumbprint,omitempty"`
	Advertisement *string `json:"advertisement,omitempty"`
}

// Cex enables IBM Crypto Express support for a LUKS volume.
type Cex struct {
	Enabled *bool `json:"enabled,omitempty"`
}

// Filesystem is a filesystem to create and/or mount.
type Filesystem struct {
	Device         string   `json:"device"`
	Format         *string  `json:"format,omitempty"`
	Path           *string  `json:"path,omitempty"`
	WipeFilesystem *bool    `json:"wipeFilesystem,omitempty"`
	Label          *string  `json:"label,omitempty"`
	UUID           *string  `json:"uuid,omitempty"`
	Options        []string `json:"options,omitempty"`
	MountOptions   []string `json:"mountOptions,omitempty"`
}

// Node is what files, directories and links have in common.
type Node struct {
	Path      string    `json:"path"`
	Overwrite *bool     `json:"overwrite,omitempty"`
	User      NodeOwner `json:"user,omitzero"`
	Group     NodeOwner `json:"group,omitzero"`
}

// NodeOwner names a user or group by id or by name.
type NodeOwner struct {
	ID   *int    `json:"id,omitempty"`
	Name *string `json:"name,omitempty"`
}

// File is a regular file.
type File struct {
	Node
	Contents Resource   `json:"contents,omitzero"`
	Append   []Resource `json:"append,omitempty"`
	Mode     *int       `json:"mode,omitempty"`
}

// Directory is a directory.
type Directory struct {
	Node
	Mode *int `json:"mode,omitempty"`
}

// Link is a symbolic or hard link.
type Link struct {
	Node
	Target *string `json:"target,omitempty"`
	Hard   *bool   `json:"hard,omitempty"`
}

// Systemd lists units.
type Systemd struct {
	Units []Unit `json:"units,omitempty"`
}

// Unit is one systemd unit and its drop-ins.
type Unit struct {
	Name     string   `json:"name"`
	Enabled  *bool    `json:"enabled,omitempty"`
	Mask     *bool    `json:"mask,omitempty"`
	Contents *string  `json:"contents,omitempty"`
	Dropins  []Dropin `json:"dropins,omitempty"`
}

// Dropin is one unit drop-in.
type Dropin struct {
	Name     string  `json:"name"`
	Contents *string `json:"contents,omitempty"`
}
