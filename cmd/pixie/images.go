package main

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/images"
	"github.com/pixie-boot/pixie/daemon/osprofile"
)

// Images are pulled by the daemon (package daemon/pulls) into its own
// asset store: this command says what to pull, then renders the pull's
// progress from the daemon's event stream. The pull goes on if the command
// is interrupted; the socket's peer-credential rule decides who may start
// one, and no write access to the data directory is needed.

func newImagesCmd(c *cli) *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:     "images",
		Aliases: []string{"image"},
		Short:   "Pull, list and remove OS boot images in the asset store",
		Long: `Boot images live in the daemon's asset store (its data directory's assets/
folder). ` + "`pixie images pull`" + ` asks the daemon to read the distribution's release
metadata, download the PXE kernel and initramfs (and Fedora CoreOS's live
rootfs), verify each file against its published checksum and the OpenPGP
signature the distribution publishes (with the Fedora and Flatcar signing
keys pixie embeds, or --keyring FILE), and resume an interrupted download.
Running it again downloads nothing when the files are present and verified.

The daemon does the downloading, so a pull goes on when this command is
interrupted: ` + "`pixie images pulls`" + ` lists the running and recent pulls,
` + "`pixie images cancel`" + ` stops one. At most one pull per image runs at a time;
asking again follows the running one.`,
		Example: `  pixie images pull fedora-coreos --stream stable
  pixie images pull flatcar --channel stable
  pixie images pull generic --name debian --url https://example/vmlinuz#sha256=HEX --url https://example/initrd.gz#sha256=HEX
  pixie images pulls
  pixie images cancel fedora-coreos/stable/x86_64
  pixie images list
  pixie images rm fedora-coreos/stable/x86_64/41.20241109.3.0`,
	})
	cmd.AddCommand(newImagesPullCmd(c), newImagesPullsCmd(c), newImagesCancelCmd(c), newImagesListCmd(c), newImagesRmCmd(c))
	return cmd
}

func newImagesPullCmd(c *cli) *cobra.Command {
	var r api.PullRequest
	var channel, keyring string
	var noSignature, noLoaders, detach bool
	var fedoraMirror string
	var timeout time.Duration
	var urls []string
	cmd := &cobra.Command{
		Use:   "pull fedora-coreos|flatcar|generic",
		Short: "Download and verify an OS's PXE boot files",
		Long: `Pull the PXE boot files of an OS into the asset store.

  fedora-coreos  the stream's current release (--stream stable|testing|next,
                 --arch x86_64|aarch64), from the stream metadata at
                 ` + images.FCOSBase + `/streams/STREAM.json,
                 and Fedora's signed shim and GRUB of the same Fedora
                 release and arch (shim-x64 and grub2-efi-x64, or the aa64
                 ones) from the Fedora repositories under
                 ` + images.FedoraRepoBase + `
                 into the image's loaders/ folder: machines with UEFI
                 Secure Boot on boot the image through them (Debian's
                 shim refuses Fedora's kernel). --fedora-mirror URL
                 replaces that host; --no-loaders skips them.
  flatcar        --channel stable|beta|alpha|lts, --version current|N, from
                 https://CHANNEL.release.flatcar-linux.net/ARCH-usr/VERSION/
                 (checksums from the .DIGESTS files)
  generic        --name NAME and --url URL#sha256=HEX (the first is the
                 kernel, the others initrds)

--mirror replaces the distribution's host, for air-gapped sites: a copy of
` + images.FCOSBase + ` (streams/ and prod/), or for Flatcar a base
holding CHANNEL/ARCH-usr/VERSION/.

The daemon downloads, through the proxy in its own environment's
HTTPS_PROXY (HTTP_PROXY for http:// URLs) when set, except for the hosts in
NO_PROXY: for the systemd service, set them with ` + "`systemctl edit pixie`" + `
(Environment=HTTPS_PROXY=...). The progress shows here; interrupting this
command leaves the pull running (--detach returns at once).

Signatures: Fedora CoreOS signs each artifact with the key of the Fedora
release it is built from, Flatcar with its image signing key; pixie embeds
those public keys (Fedora 43-47, Flatcar's 2025-2027 signing subkey) and
refuses a file whose published signature does not verify. --keyring FILE
(armored or binary) verifies with other keys instead, e.g. a newer key than
this pixie knows; --no-signature checks the checksums only (a mirror
without the .sig files). Generic images are verified by their sha256 only.`,
		Example: `  pixie images pull fedora-coreos
  pixie images pull fedora-coreos --stream testing --arch aarch64
  pixie images pull flatcar --channel beta --version 4081.1.0
  pixie images pull flatcar --channel lts --keyring Flatcar_Image_Signing_Key.asc
  pixie images pull fedora-coreos --mirror http://mirror.lan/fcos
  pixie images pull fedora-coreos --detach`,
		Args: exactArgs(1, "the OS to pull: fedora-coreos, flatcar or generic"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r.OS = args[0]
			f := cmd.Flags()
			switch r.OS {
			case "flatcar":
				if f.Changed("stream") {
					return usageErrorf("Flatcar has channels: give --channel")
				}
				r.Stream = channel
			case "fedora-coreos":
				if f.Changed("channel") {
					return usageErrorf("Fedora CoreOS has streams: give --stream")
				}
			case "generic":
				if len(urls) == 0 || r.Name == "" {
					return usageErrorf("a generic image needs --name NAME and --url KERNEL_URL#sha256=HEX (then --url for each initrd)")
				}
				for _, u := range urls {
					base, frag, _ := strings.Cut(u, "#")
					r.Files = append(r.Files, api.GenericFile{URL: base, SHA256: strings.TrimPrefix(frag, "sha256=")})
				}
			default:
				return usageErrorf("unknown OS %q: pull fedora-coreos, flatcar or generic", r.OS)
			}
			if r.OS != "generic" && len(urls) > 0 {
				return usageErrorf("--url is for generic images")
			}
			// A misspelt flag is a usage mistake (exit 2), said before
			// anything is fetched.
			if r.OS != "generic" {
				if _, err := osprofile.NormalizeArch(r.Arch); err != nil {
					return usageError(fmt.Errorf("--arch: %w", err))
				}
				if err := osprofile.CheckStream(osprofile.Kind(r.OS), r.Stream); err != nil {
					return usageError(err)
				}
			}
			if timeout <= 0 {
				return usageErrorf("--timeout %s: give a positive duration, like 30s or 2m", timeout)
			}
			if keyring != "" && noSignature {
				return usageErrorf("give --keyring or --no-signature, not both")
			}
			r.NoSignature = noSignature
			r.TimeoutSeconds = timeout.Seconds()
			if keyring != "" {
				// Read here, with the caller's permissions: the daemon is
				// sent the keys, never a path to open.
				b, err := readUserFile("--keyring", keyring, 16<<20)
				if err != nil {
					return err
				}
				if _, err := images.ReadKeyring(bytes.NewReader(b)); err != nil {
					return fmt.Errorf("--keyring %s: %w", keyring, err)
				}
				r.Keyring = b
			}
			if r.OS != "fedora-coreos" && (noLoaders || fedoraMirror != "") {
				return usageErrorf("--no-loaders and --fedora-mirror are for fedora-coreos: Fedora's shim and GRUB come with its images only")
			}
			r.NoLoaders, r.FedoraMirror = noLoaders, fedoraMirror
			return c.pull(cmd, r, detach)
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.Stream, "stream", "stable", "Fedora CoreOS `STREAM`: stable, testing or next")
	f.StringVar(&channel, "channel", "stable", "Flatcar `CHANNEL`: stable, beta, alpha or lts")
	f.StringVar(&r.Version, "version", "current", "Flatcar `VERSION`: current or a release number")
	f.StringVar(&r.Arch, "arch", "x86_64", "`ARCH`: x86_64 or aarch64")
	f.StringVar(&r.Mirror, "mirror", "", "mirror base `URL` replacing the distribution's host")
	f.DurationVar(&timeout, "timeout", images.DefaultTimeout, "how long to wait on a server (to connect, to answer, and between data mid-file) before giving up, e.g. 30s or 2m")
	f.StringVar(&keyring, "keyring", "", "verify OpenPGP signatures with the public keys in `FILE` instead of the distribution keys pixie embeds")
	f.BoolVar(&noSignature, "no-signature", false, "do not check the distribution's OpenPGP signatures (the published checksums are still verified)")
	f.BoolVar(&noLoaders, "no-loaders", false, "fedora-coreos: do not pull Fedora's signed shim and GRUB (needed only by machines with Secure Boot on)")
	f.StringVar(&fedoraMirror, "fedora-mirror", "", "fedora-coreos: mirror base `URL` replacing "+images.FedoraRepoBase+" for the shim and GRUB packages")
	f.StringVar(&r.Name, "name", "", "generic image `NAME` (its folder under assets/generic/)")
	f.StringArrayVar(&urls, "url", nil, "generic image file `URL#sha256=HEX` (first the kernel, then initrds)")
	f.BoolVar(&detach, "detach", false, "start the pull and return at once (follow it with `pixie images pulls`)")
	return cmd
}

func newImagesListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the pulled images",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := callCtx(cmd)
			defer cancel()
			imgs, err := c.client().Images(ctx)
			if err != nil {
				return err
			}
			if c.json {
				return printJSON(c.out, imgs)
			}
			if len(imgs) == 0 {
				_, err := fmt.Fprintln(c.out, "no images pulled yet: try `pixie images pull fedora-coreos`")
				return err
			}
			var rows [][]string
			for _, im := range imgs {
				var size int64
				for _, f := range im.Files {
					size += f.Size
				}
				// The image's own shim and GRUB, for Secure Boot machines.
				rows = append(rows, []string{im.ID, im.OS, orDash(im.Stream), orDash(im.Arch), im.Version,
					fmt.Sprintf("%.1f MiB", float64(size)/(1<<20)), orDash(im.Loaders), formatAge(c.now(), im.PulledAt)})
			}
			_, err = fmt.Fprint(c.out, table([]string{"IMAGE", "OS", "STREAM", "ARCH", "VERSION", "SIZE", "SHIM+GRUB", "PULLED"}, rows))
			return err
		},
	}
}

func newImagesRmCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "rm IMAGE",
		Aliases: []string{"remove"},
		Short:   "Remove a pulled image (IMAGE as `pixie images list` shows it)",
		Args:    exactArgs(1, "one image, as `pixie images list` shows it"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := callCtx(cmd)
			defer cancel()
			if err := c.client().RemoveImage(ctx, args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(c.out, "image %s removed\n", args[0])
			return err
		},
	}
}
