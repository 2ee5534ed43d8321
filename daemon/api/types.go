package api

import "time"

// Profile says how a machine boots: kernel and initrds (paths inside the
// daemon's asset store, or http(s) URLs), kernel arguments, and the Ignition
// config (JSON or Butane YAML, a text/template) the machine is given.
type Profile struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	OS          string   `json:"os"` // generic, fedora-coreos, flatcar, container-linux
	Kernel      string   `json:"kernel"`
	Initrds     []string `json:"initrds"`
	Args        string   `json:"args"`
	Ignition    string   `json:"ignition,omitempty"`
	// PhoneHome is where the booted OS reports it is up, what configs get
	// as {{.PhoneHomeURL}}: "default" (also when empty) for pixie's own
	// /phone-home endpoint, which records the final "booted" stage;
	// "none"; or an http(s) URL template ({{.MAC}}, {{.Hostname}}, ...).
	PhoneHome string `json:"phone_home,omitempty"`
	// IgnitionSpec is the newest Ignition spec the profile's OS reads
	// ("3.3.0"): pixie serves configs at that version or refuses them.
	// Empty: what pixie knows of the OS kind.
	IgnitionSpec string `json:"ignition_spec,omitempty"`
	// Vars are the profile's template variables ({{.Vars.NAME}}); a
	// machine's own variables of the same name win.
	Vars      map[string]string `json:"vars,omitempty"`
	CreatedAt time.Time         `json:"created_at,omitzero"` // set by the daemon
	UpdatedAt time.Time         `json:"updated_at,omitzero"` // set by the daemon
}

// Machine is what pixie knows about one MAC address: the profile it boots
// (empty: the default profile), its hostname and variables for templates.
type Machine struct {
	MAC      string            `json:"mac"` // normalized aa:bb:cc:dd:ee:ff in answers
	Profile  string            `json:"profile,omitempty"`
	Hostname string            `json:"hostname,omitempty"`
	Vars     map[string]string `json:"vars,omitempty"`
	// Ignition is the machine's own config (Ignition 3.x JSON or Butane, a
	// template), merged over its profile's config when served.
	Ignition string `json:"ignition,omitempty"`
	// Loader is the machine's UEFI first stage: "auto" (also when empty:
	// the server's default, normally the ladder snponly -> ipxe -> grub)
	// or a pin, "snponly", "ipxe" or "grub".
	Loader string `json:"loader,omitempty"`
	// LoaderStep is the ladder rung auto reached ("": the bottom), with
	// why and when. Set by the daemon; a PUT that sends it empty resets
	// the ladder, one that sends it back keeps it.
	LoaderStep   string    `json:"loader_step,omitempty"`
	LoaderReason string    `json:"loader_reason,omitempty"`
	LoaderStepAt time.Time `json:"loader_step_at,omitzero"`
	// IP is the machine's reserved address, "ADDR" or "ADDR/PREFIX", with
	// its Gateway and DNS servers: handed out in full-DHCP mode, written
	// into the boot in proxy mode. Empty: none.
	IP        string    `json:"ip,omitempty"`
	Gateway   string    `json:"gateway,omitempty"`
	DNS       []string  `json:"dns,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"` // set by the daemon
	UpdatedAt time.Time `json:"updated_at,omitzero"` // set by the daemon
}

// Event is one recorded step of one machine's network boot, or a
// daemon-level event (empty MAC, stage "server").
type Event struct {
	ID     int64     `json:"id"` // increasing; 0 if the daemon could not store it
	Time   time.Time `json:"time"`
	MAC    string    `json:"mac"`
	IP     string    `json:"ip"`
	Arch   string    `json:"arch"`  // e.g. bios, efi-x64, efi-arm64
	Stage  string    `json:"stage"` // dhcp, pxe, tftp, script, kernel, initrd, rootfs, ignition, booted, error, server
	Detail string    `json:"detail"`
	// Instance names the pixie instance that served this step (several
	// may share one PostgreSQL store); empty for events from before
	// instances were recorded.
	Instance string `json:"instance,omitempty"`
}

// BootSummary is one MAC's most recent boot activity: a row of "recently
// booted machines".
type BootSummary struct {
	MAC       string    `json:"mac"`
	Last      Event     `json:"last"`
	FirstSeen time.Time `json:"first_seen"`
	Known     bool      `json:"known"`   // pixie has a machine record for it
	Profile   string    `json:"profile"` // the profile it boots (the default one if unknown)
	Hostname  string    `json:"hostname,omitempty"`
	// Loader and LoaderStep are as in Machine ("auto" and "" for a MAC
	// with no record).
	Loader     string `json:"loader,omitempty"`
	LoaderStep string `json:"loader_step,omitempty"`
	// Address is the machine's address: reserved, leased (full DHCP), or
	// the newest its boot requests came from; empty when not known yet.
	Address string `json:"address,omitempty"`
}

// StoreStatus names the daemon's database.
type StoreStatus struct {
	Backend  string `json:"backend"`
	Location string `json:"location"`
	Instance string `json:"instance,omitempty"`
}

// Status is the daemon's state as `pixie status` and the tray show it.
type Status struct {
	Serving bool `json:"serving"` // the boot servers are up
	Paused  bool `json:"paused"`  // up, but offering no network boot
	// Problem says why the boot servers are not serving although the
	// daemon runs (interface down, address gone, port taken), with what
	// pixie is doing about it. Empty when all is well.
	Problem   string `json:"problem,omitempty"`
	Interface string `json:"interface"`
	Address   string `json:"address"`
	Ports     Ports  `json:"ports"`
	DataDir   string `json:"data_dir"`
	// Store is where the database is ("sqlite" or "postgres", and the
	// file or URL, no password), Instance the name this daemon records
	// on its boot events.
	Store     StoreStatus       `json:"store,omitzero"`
	Socket    string            `json:"socket"`
	Version   string            `json:"version"`
	StartedAt time.Time         `json:"started_at"`
	Firmware  []Firmware        `json:"firmware"`
	Counters  map[string]uint64 `json:"counters"`
	BootURL   string            `json:"boot_url"` // what iPXE clients are pointed at
	// DefaultLoader is the loader of machines on auto (`pixie serve
	// --loader`): "auto" is the ladder. EFIFile, when set, is the
	// --efi-file every x86-64 UEFI machine without a pin gets instead.
	DefaultLoader string `json:"default_loader,omitempty"`
	EFIFile       string `json:"efi_file,omitempty"`
	// DHCPLinkLayer says which proxyDHCP ports are answered with raw
	// Ethernet frames and why, e.g. "proxyDHCP over the link layer: port
	// 67 is held by PID 812 (dnsmasq)". Empty when both are UDP sockets.
	DHCPLinkLayer string `json:"dhcp_link_layer,omitempty"`
	// DHCP is the DHCP mode and what pixie knows of the link's DHCP
	// servers (see DHCPStatus).
	DHCP DHCPStatus `json:"dhcp"`
}

// DHCPStatus is pixie's DHCP mode and the link's DHCP servers.
type DHCPStatus struct {
	// Mode is "proxy" (the LAN's DHCP server hands out addresses) or
	// "full" (`pixie serve --dhcp`: pixie does).
	Mode string `json:"mode"`
	// Pool, PoolSize and PoolUsed are full mode's address pool
	// ("10.0.0.128-10.0.0.254"), its size and how many are leased now;
	// LeaseTime the lease granted ("1h0m0s").
	Pool      string `json:"pool,omitempty"`
	PoolSize  int    `json:"pool_size,omitempty"`
	PoolUsed  int    `json:"pool_used,omitempty"`
	LeaseTime string `json:"lease_time,omitempty"`
	// Servers lists the other DHCP servers seen on the link ("10.0.0.1
	// (aa:bb:cc:dd:ee:ff)"); Checked is false until the check has run.
	Servers []string `json:"servers,omitempty"`
	Checked bool     `json:"checked"`
	// Warning says what is wrong with addresses on the link and what to
	// do: no DHCP server answered (proxy mode), or a rival server stopped
	// full mode handing out addresses. Empty when all is well.
	Warning string `json:"warning,omitempty"`
}

// Lease is one address of full-DHCP mode's lease table.
type Lease struct {
	IP       string    `json:"ip"`
	MAC      string    `json:"mac,omitempty"`
	State    string    `json:"state"` // offered, bound, released, held
	Expires  time.Time `json:"expires"`
	Hostname string    `json:"hostname,omitempty"`
	// Reserved: the address is the MAC's reservation.
	Reserved bool `json:"reserved,omitempty"`
}

// Leases is the answer of GET /v1/leases: the mode and pool, and every
// address pixie has a lease record for, by address.
type Leases struct {
	Mode   string  `json:"mode"`
	Pool   string  `json:"pool,omitempty"`
	Leases []Lease `json:"leases"`
}

// Ports are the ports the daemon's servers listen on.
type Ports struct {
	DHCP int `json:"dhcp"`
	PXE  int `json:"pxe"`
	TFTP int `json:"tftp"`
	HTTP int `json:"http"`
}

// Firmware is the first-stage iPXE firmware pixie serves for one client
// architecture, where each file comes from, and which expected files it
// could not find.
type Firmware struct {
	Arch    string         `json:"arch"`
	Files   []FirmwareFile `json:"files"`
	Missing []string       `json:"missing,omitempty"`
}

// FirmwareFile is one served firmware file and its source (e.g. "embedded",
// or the directory it was found in).
type FirmwareFile struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	// Kind is what the file is: "ipxe", or "shim" and "grub", the two
	// halves of the Secure Boot chain.
	Kind string `json:"kind,omitempty"`
	// Vendor, for a shim, is the CA built into it, e.g. "Debian Secure
	// Boot CA": shim starts only GRUBs and kernels that CA signed.
	Vendor string `json:"vendor,omitempty"`
}
