package api

import (
	"context"
	"net/http"
)

// OSProfileRequest asks the daemon to make a profile from an OS and the
// images it has pulled: the kernel and initrds of the latest matching
// image, the OS's documented kernel arguments, and (with SSHKeys) the
// first-time Ignition config; then to save it.
type OSProfileRequest struct {
	// Profile holds the fields the caller sets itself (its name always).
	// On update the daemon starts from the stored profile; either way the
	// fields named in Given win over what the OS would fill in.
	Profile Profile `json:"profile"`
	// Given names the settings the caller gave, as the CLI's flags spell
	// them: kernel, initrd, clear-initrds, args, os, description, ignition,
	// phone-home, stream, channel, arch, mode, install-dev, console,
	// autologin, flatcar-config-url.
	Given []string `json:"given,omitempty"`
	// Stream is the Fedora CoreOS stream, Channel the Flatcar channel:
	// they and Arch choose a pulled image.
	Stream  string `json:"stream,omitempty"`
	Channel string `json:"channel,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// Mode is live or install (Fedora CoreOS); InstallDev the install disk.
	Mode       string   `json:"mode,omitempty"`
	InstallDev string   `json:"install_dev,omitempty"`
	Console    []string `json:"console,omitempty"`
	Autologin  bool     `json:"autologin,omitempty"`
	// FlatcarConfigURL also passes flatcar.config.url= (old Flatcar).
	FlatcarConfigURL bool `json:"flatcar_config_url,omitempty"`
	// SSHKeys are public keys, one file's content each (the client reads
	// its files; the daemon opens none): they generate the config.
	SSHKeys     []string `json:"ssh_keys,omitempty"`
	NoPhoneHome bool     `json:"no_phone_home,omitempty"`
	// Save is create, replace (create, or replace one of that name) or
	// update (change an existing profile); empty computes the profile and
	// saves nothing.
	Save string `json:"save,omitempty"`
}

// OSProfileResult is the profile made, as stored when saved.
type OSProfileResult struct {
	Profile  Profile  `json:"profile"`
	Warnings []string `json:"warnings,omitempty"`
	// Saved is added, replaced or updated; empty when nothing was saved.
	Saved string `json:"saved,omitempty"`
}

// ProfileFromOS makes (and, per r.Save, saves) a profile from an OS and
// its pulled images. A request that does not fit the OS is an *Error with
// CodeInvalid; a missing image one with CodeNotFound whose message names
// the `pixie images pull` command that fetches it.
func (c *Client) ProfileFromOS(ctx context.Context, r OSProfileRequest) (OSProfileResult, error) {
	var out OSProfileResult
	err := c.do(ctx, http.MethodPost, "/v1/profiles/from-os", nil, r, &out)
	return out, err
}
