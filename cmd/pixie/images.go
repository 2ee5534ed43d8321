package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pixie-boot/pixie/daemon/images"
	"github.com/pixie-boot/pixie/daemon/osprofile"
	"github.com/pixie-boot/pixie/helper/paths"
)

// Images are pulled by the CLI itself, into the data directory's assets/
// folder (which needs the data directory's owner, usually root): a
// download runs with the caller's own network access and shows its
// progress directly, and the daemon is never asked to fetch a URL or read
// a keyring path a client names. The daemon serves the files as soon as
// they are renamed into place.

func newImagesCmd(c *cli) *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:     "images",
		Aliases: []string{"image"},
		Short:   "Pull, list and remove OS boot images in the asset store",
		Long: `Boot images live in the data directory's assets/ folder, which the daemon
serves. ` + "`pixie images pull`" + ` reads the distribution's release metadata, downloads
the PXE kernel and initramfs (and Fedora CoreOS's live rootfs), verifies each
file against its published checksum and the OpenPGP signature the
distribution publishes (with the Fedora and Flatcar signing keys pixie
embeds, or --keyring FILE), and resumes an interrupted download. Running it again downloads
nothing when the files are present and verified.

Run it as the data directory's owner (sudo). --data-dir defaults to the
running daemon's data directory.`,
		Example: `  sudo pixie images pull fedora-coreos --stream stable
  sudo pixie images pull flatcar --channel stable
  sudo pixie images pull generic --name debian --url https://example/vmlinuz#sha256=HEX --url https://example/initrd.gz#sha256=HEX
  pixie images list
  sudo pixie images rm fedora-coreos/stable/x86_64/41.20241109.3.0`,
	})
	cmd.PersistentFlags().String("data-dir", "", "the daemon's data `DIR` (default: ask the running daemon, else "+paths.Default().DataDir+")")
	cmd.AddCommand(newImagesPullCmd(c), newImagesListCmd(c), newImagesRmCmd(c))
	return cmd
}

// assetsDir is the asset store of --data-dir, or of the running daemon.
func (c *cli) assetsDir(cmd *cobra.Command) string {
	if f := cmd.Flag("data-dir"); f != nil && f.Value.String() != "" {
		return filepath.Join(f.Value.String(), "assets")
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
	defer cancel()
	if st, err := c.client().Status(ctx); err == nil && st.DataDir != "" {
		return filepath.Join(st.DataDir, "assets")
	}
	return filepath.Join(paths.Default().DataDir, "assets")
}

func newImagesPullCmd(c *cli) *cobra.Command {
	var r images.Request
	var channel, keyring string
	var noSignature, noLoaders bool
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

Downloads go through the proxy in HTTPS_PROXY (HTTP_PROXY for http://
URLs) when set, except for the hosts in NO_PROXY. sudo drops these
variables: keep them with sudo --preserve-env=HTTPS_PROXY,HTTP_PROXY,NO_PROXY.

Signatures: Fedora CoreOS signs each artifact with the key of the Fedora
release it is built from, Flatcar with its image signing key; pixie embeds
those public keys (Fedora 43-47, Flatcar's 2025-2027 signing subkey) and
refuses a file whose published signature does not verify. --keyring FILE
(armored or binary) verifies with other keys instead, e.g. a newer key than
this pixie knows; --no-signature checks the checksums only (a mirror
without the .sig files). Generic images are verified by their sha256 only.`,
		Example: `  sudo pixie images pull fedora-coreos
  sudo pixie images pull fedora-coreos --stream testing --arch aarch64
  sudo pixie images pull flatcar --channel beta --version 4081.1.0
  sudo pixie images pull flatcar --channel lts --keyring Flatcar_Image_Signing_Key.asc
  sudo pixie images pull fedora-coreos --mirror http://mirror.lan/fcos
  sudo --preserve-env=HTTPS_PROXY pixie images pull fedora-coreos`,
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
				r.SHA256 = map[string]string{}
				for i, u := range urls {
					base, frag, _ := strings.Cut(u, "#")
					r.SHA256[base] = strings.TrimPrefix(frag, "sha256=")
					if i == 0 {
						r.Kernel = base
					} else {
						r.Initrds = append(r.Initrds, base)
					}
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
			p := &images.Puller{Log: c.errOut, Timeout: timeout}
			if c.puller != nil {
				c.puller(p)
			}
			tty := false
			if fd, ok := c.errOut.(*os.File); ok {
				tty = term.IsTerminal(int(fd.Fd()))
			}
			p.Progress = images.NewProgress(c.errOut, tty)
			if keyring != "" && noSignature {
				return usageErrorf("give --keyring or --no-signature, not both")
			}
			p.DistributionKeys = !noSignature
			if keyring != "" {
				// Read here, with the caller's permissions.
				b, err := readUserFile("--keyring", keyring, 16<<20)
				if err != nil {
					return err
				}
				if p.Keyring, err = images.ReadKeyring(bytes.NewReader(b)); err != nil {
					return fmt.Errorf("--keyring %s: %w", keyring, err)
				}
			}
			assets := c.assetsDir(cmd)
			res, err := p.Pull(cmd.Context(), assets, r)
			if err != nil {
				return assetsError(assets, pullError(err))
			}
			var loaders *images.LoaderResult
			var loadersErr error
			if r.OS == "fedora-coreos" && !noLoaders {
				lr, err := p.PullLoaders(cmd.Context(), assets, res.Image, fedoraMirror)
				if err != nil {
					loadersErr = fmt.Errorf("%s %s %s is pulled, but Fedora's signed shim and GRUB for it are not, so machines with Secure Boot on cannot boot it yet: %w\nPull again to retry (the image is not downloaded again), or give --no-loaders if no machine needs Secure Boot",
						res.Image.OS, res.Image.Stream, res.Image.Version, pullError(err))
				} else {
					loaders = &lr
				}
			}
			if c.json && loadersErr == nil {
				return printJSON(c.out, struct {
					images.Result
					Loaders *images.LoaderResult `json:"loaders,omitempty"`
				}{res, loaders})
			}
			if loadersErr != nil {
				return assetsError(assets, loadersErr)
			}
			verb := "pulled"
			if len(res.Downloaded) == 0 {
				verb = "already present, verified"
			}
			fmt.Fprintf(c.out, "%s %s %s: %s (%s)\n", res.Image.OS, res.Image.Stream, res.Image.Version, verb, filepath.Join(assets, filepath.FromSlash(res.Image.Dir)))
			if loaders != nil {
				lverb := "pulled"
				if !loaders.Downloaded {
					lverb = "already present, verified"
				}
				var pkgs []string
				for _, lf := range loaders.Set.Files {
					pkgs = append(pkgs, lf.Name+" from "+lf.Package)
				}
				fmt.Fprintf(c.out, "Fedora %s shim and GRUB for Secure Boot: %s (%s; %s)\n", loaders.Set.Release, lverb, strings.Join(pkgs, ", "), filepath.Join(assets, filepath.FromSlash(loaders.Dir)))
			}
			if res.Image.OS != "generic" {
				fmt.Fprintf(c.out, "use it: pixie profiles add NAME --os %s --%s %s --ssh-key ~/.ssh/id_ed25519.pub\n",
					res.Image.OS, map[bool]string{true: "channel", false: "stream"}[res.Image.OS == "flatcar"], res.Image.Stream)
			}
			return nil
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
	return cmd
}

func newImagesListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the pulled images",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			assets := c.assetsDir(cmd)
			imgs, err := images.List(assets)
			if err != nil {
				return assetsError(assets, err)
			}
			if c.json {
				if imgs == nil {
					imgs = []images.Image{}
				}
				return printJSON(c.out, imgs)
			}
			if len(imgs) == 0 {
				_, err := fmt.Fprintln(c.out, "no images pulled yet: try `sudo pixie images pull fedora-coreos`")
				return err
			}
			var rows [][]string
			for _, im := range imgs {
				var size int64
				for _, f := range im.Files {
					size += f.Size
				}
				// The image's own shim and GRUB, for Secure Boot machines.
				loaders := "-"
				if set, err := images.ReadLoaderSet(assets, im.Dir); err == nil {
					loaders = "Fedora " + set.Release
				} else if !errors.Is(err, fs.ErrNotExist) {
					loaders = "damaged: pull again"
				}
				rows = append(rows, []string{im.ID(), im.OS, orDash(im.Stream), orDash(im.Arch), im.Version,
					fmt.Sprintf("%.1f MiB", float64(size)/(1<<20)), loaders, formatAge(c.now(), im.PulledAt)})
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
			assets := c.assetsDir(cmd)
			if err := images.Remove(assets, args[0]); err != nil {
				return assetsError(assets, err)
			}
			_, err := fmt.Fprintf(c.out, "image %s removed\n", args[0])
			return err
		},
	}
}

// pullError adds what only the CLI knows to a failed download: run through
// sudo, the proxy variables of the user's shell were dropped.
func pullError(err error) error {
	var fe *images.FetchError
	if !errors.As(err, &fe) || fe.Proxy != "" || fe.Reason == images.HTTPStatus || os.Getenv("SUDO_USER") == "" {
		return err
	}
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if os.Getenv(v) != "" {
			return err
		}
	}
	return fmt.Errorf("%w. sudo does not pass the proxy variables on: if your shell sets one, run sudo --preserve-env=HTTPS_PROXY,HTTP_PROXY,NO_PROXY pixie images pull ...", err)
}

// assetsError says whose the asset store is when the caller may not use
// it: images are written as the data directory's owner.
func assetsError(assets string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	what := assets
	var pe *fs.PathError
	if errors.As(err, &pe) {
		what = pe.Path
	}
	return reword(err, "permission denied on %s: the asset store %s belongs to the data directory's owner (usually root): run the command with sudo", what, assets)
}
