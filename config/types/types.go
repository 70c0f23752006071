// Package types is the canonical config model: the superset of every spec
// version we accept (3.0.0 through 3.7.0-experimental). Code above config/
// sees only these types; which fields and values a given version allows is
// described in config/v3_*/ and enforced while parsing.
//
// Optional fields are pointers so that "unset" differs from the zero value:
// merging needs that difference, and so do defaults (a file mode that is
// unset means 0644 or "keep the existing mode").
//
// Fields are in alphabetical order of their Go names, as in the reference
// implementation, so that marshalled JSON and report order match its output.
//
// Lists carry their merge and duplicate semantics in a `list` tag, read by
// both config/validation (duplicates) and config/merge:
//   - no tag: entries are identified by Key() (structs) or by value
//     (strings); two entries with one identity are duplicates, and a merged
//     child entry replaces or updates the parent entry with its identity;
//   - list:"append": entries have no identity; merging appends the child's;
//   - list:"shared": the tagged sibling lists of one struct form a single
//     namespace (files, directories and links share paths; kernel arguments
//     that should and should not exist share values).
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
	Config   IgnitionConfig `json:"config,omitzero"`
	Proxy    Proxy          `json:"proxy,omitzero"`
	Security Security       `json:"security,omitzero"`
	Timeouts Timeouts       `json:"timeouts,omitzero"`
	Version  string         `json:"version"`
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
	Compression  *string      `json:"compression,omitempty"`
	HTTPHeaders  []HTTPHeader `json:"httpHeaders,omitempty"`
	Source       *string      `json:"source,omitempty"`
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
	ShouldExist    []string `json:"shouldExist,omitempty" list:"shared"`
	ShouldNotExist []string `json:"shouldNotExist,omitempty" list:"shared"`
}

// Passwd lists users and groups.
type Passwd struct {
	Groups []PasswdGroup `json:"groups,omitempty"`
	Users  []PasswdUser  `json:"users,omitempty"`
}

// PasswdUser is one account.
type PasswdUser struct {
	Gecos             *string  `json:"gecos,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	HomeDir           *string  `json:"homeDir,omitempty"`
	Name              string   `json:"name"`
	NoCreateHome      *bool    `json:"noCreateHome,omitempty"`
	NoLogInit         *bool    `json:"noLogInit,omitempty"`
	NoUserGroup       *bool    `json:"noUserGroup,omitempty"`
	PasswordHash      *string  `json:"passwordHash,omitempty"`
	PrimaryGroup      *string  `json:"primaryGroup,omitempty"`
	SSHAuthorizedKeys []string `json:"sshAuthorizedKeys,omitempty"`
	Shell             *string  `json:"shell,omitempty"`
	ShouldExist       *bool    `json:"shouldExist,omitempty"`
	System            *bool    `json:"system,omitempty"`
	UID               *int     `json:"uid,omitempty"`
}

// PasswdGroup is one group.
type PasswdGroup struct {
	Gid          *int    `json:"gid,omitempty"`
	Name         string  `json:"name"`
	PasswordHash *string `json:"passwordHash,omitempty"`
	ShouldExist  *bool   `json:"shouldExist,omitempty"`
	System       *bool   `json:"system,omitempty"`
}

// Storage describes disks, arrays, encrypted volumes, filesystems and the
// files, directories and links written into them.
type Storage struct {
	Directories []Directory  `json:"directories,omitempty" list:"shared"`
	Disks       []Disk       `json:"disks,omitempty"`
	Files       []File       `json:"files,omitempty" list:"shared"`
	Filesystems []Filesystem `json:"filesystems,omitempty"`
	Links       []Link       `json:"links,omitempty" list:"shared"`
	Luks        []Luks       `json:"luks,omitempty"`
	Raid        []Raid       `json:"raid,omitempty"`
}

// Disk is a block device and its partition table.
type Disk struct {
	Device     string      `json:"device"`
	Partitions []Partition `json:"partitions,omitempty"`
	WipeTable  *bool       `json:"wipeTable,omitempty"`
}

// Partition is one GPT entry.
type Partition struct {
	GUID               *string `json:"guid,omitempty"`
	Label              *string `json:"label,omitempty"`
	Number             int     `json:"number,omitempty"`
	Resize             *bool   `json:"resize,omitempty"`
	ShouldExist        *bool   `json:"shouldExist,omitempty"`
	SizeMiB            *int    `json:"sizeMiB,omitempty"`
	StartMiB           *int    `json:"startMiB,omitempty"`
	TypeGUID           *string `json:"typeGuid,omitempty"`
	WipePartitionEntry *bool   `json:"wipePartitionEntry,omitempty"`
}

// Raid is one md array.
type Raid struct {
	Devices []string `json:"devices,omitempty"`
	Level   *string  `json:"level,omitempty"`
	Name    string   `json:"name"`
	Options []string `json:"options,omitempty" list:"append"`
	Spares  *int     `json:"spares,omitempty"`
}

// Luks is one LUKS2 volume.
type Luks struct {
	Cex         Cex      `json:"cex,omitzero"`
	Clevis      Clevis   `json:"clevis,omitzero"`
	Device      *string  `json:"device,omitempty"`
	Discard     *bool    `json:"discard,omitempty"`
	KeyFile     Resource `json:"keyFile,omitzero"`
	Label       *string  `json:"label,omitempty"`
	Name        string   `json:"name"`
	OpenOptions []string `json:"openOptions,omitempty"`
	Options     []string `json:"options,omitempty" list:"append"`
	UUID        *string  `json:"uuid,omitempty"`
	WipeVolume  *bool    `json:"wipeVolume,omitempty"`
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
	Advertisement *string `json:"advertisement,omitempty"`
	Thumbprint    *string `json:"thumbprint,omitempty"`
	URL           string  `json:"url"`
}

// Cex enables IBM Crypto Express support for a LUKS volume.
type Cex struct {
	Enabled *bool `json:"enabled,omitempty"`
}

// Filesystem is a filesystem to create and/or mount.
type Filesystem struct {
	Device         string   `json:"device"`
	Format         *string  `json:"format,omitempty"`
	Label          *string  `json:"label,omitempty"`
	MountOptions   []string `json:"mountOptions,omitempty" list:"append"`
	Options        []string `json:"options,omitempty" list:"append"`
	Path           *string  `json:"path,omitempty"`
	UUID           *string  `json:"uuid,omitempty"`
	WipeFilesystem *bool    `json:"wipeFilesystem,omitempty"`
}

// Node is what files, directories and links have in common.
type Node struct {
	Group     NodeOwner `json:"group,omitzero"`
	Overwrite *bool     `json:"overwrite,omitempty"`
	Path      string    `json:"path"`
	User      NodeOwner `json:"user,omitzero"`
}

// NodeOwner names a user or group by id or by name.
type NodeOwner struct {
	ID   *int    `json:"id,omitempty"`
	Name *string `json:"name,omitempty"`
}

// File is a regular file.
type File struct {
	Node
	Append   []Resource `json:"append,omitempty" list:"append"`
	Contents Resource   `json:"contents,omitzero"`
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
	Hard   *bool   `json:"hard,omitempty"`
	Target *string `json:"target,omitempty"`
}

// Systemd lists units.
type Systemd struct {
	Units []Unit `json:"units,omitempty"`
}

// Unit is one systemd unit and its drop-ins.
type Unit struct {
	Contents *string  `json:"contents,omitempty"`
	Dropins  []Dropin `json:"dropins,omitempty"`
	Enabled  *bool    `json:"enabled,omitempty"`
	Mask     *bool    `json:"mask,omitempty"`
	Name     string   `json:"name"`
}

// Dropin is one unit drop-in.
type Dropin struct {
	Contents *string `json:"contents,omitempty"`
	Name     string  `json:"name"`
}
