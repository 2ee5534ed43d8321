package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pixie-boot/pixie/daemon/api"
)

type importFlags struct {
	dryRun, link, replace bool
	prefix, def, dnsmasq  string
}

func newImportCmd(c *cli) *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:   "import",
		Short: "Move machines and profiles in from matchbox or the guide's bootcfg setup",
		Long: `Read a matchbox data directory or a coreos-baremetal bootcfg directory and
make the same setup in pixie: profiles from matchbox profiles or bootcfg
specs, machines from groups or per-MAC directories, the default profile from
a group with no selector, and the kernels and initrds they use copied into
pixie's asset store (or hard-linked, with --link). Configs are translated to
pixie's template names and validated; the summary says what was imported,
what was changed on the way and what was skipped, and why.

pixie reads the directory as you, with your permissions, and sends what it
read to the daemon. A run applies its whole plan or changes nothing; running
it again changes nothing unless the directory changed. Start with --dry-run.`,
		Example: `  pixie import matchbox /var/lib/matchbox --dry-run
  pixie import matchbox /var/lib/matchbox --prefix mb- --default default
  pixie import bootcfg ~/cbm --dnsmasq ~/cbm/dnsmasq.data/dnsmasq.conf`,
	})
	cmd.AddCommand(newImportSourceCmd(c, api.ImportMatchbox, "a matchbox data directory (profiles/, groups/, ignition/, generic/, assets/)"),
		newImportSourceCmd(c, api.ImportBootcfg, "the guide's bootcfg directory (the one holding data/ and images/, or data/ itself)"))
	return cmd
}

func newImportSourceCmd(c *cli, source, what string) *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   source + " DIR",
		Short: "Import " + what,
		Long: "Import " + what + " into pixie.\n\n" +
			"Profiles are named after their id (with --prefix in front); assets go to imported/" + source + "/ in pixie's asset store.\n" +
			"Things pixie already has are left as they are unless --replace is given.",
		Example: "  pixie import " + source + " DIR --dry-run\n  pixie import " + source + " DIR --json",
		Args:    exactArgs(1, "the "+source+" directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd, c, source, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.dryRun, "dry-run", false, "show what the import would do and change nothing")
	fl.StringVar(&f.prefix, "prefix", "", "put `PREFIX` in front of every profile name (e.g. mb-)")
	fl.StringVar(&f.def, "default", "", "the group (or bootcfg machine or spec) `ID` whose profile becomes the default, when there are several")
	fl.BoolVar(&f.link, "link", false, "hard-link kernels and initrds into pixie's asset store instead of copying them (the directory must be on the same file system)")
	fl.BoolVar(&f.replace, "replace", false, "update profiles, machines, assets and the default profile that pixie already has and that differ")
	fl.StringVar(&f.dnsmasq, "dnsmasq", "", "read the dnsmasq.conf `FILE` and say which `pixie serve` settings give the same setup")
	return cmd
}

func runImport(cmd *cobra.Command, c *cli, source, dir string, f importFlags) error {
	req, err := readImportTree(source, dir)
	if err != nil {
		return err
	}
	req.Prefix, req.Default, req.Link, req.Replace = f.prefix, f.def, f.link, f.replace
	if f.dnsmasq != "" {
		b, err := readUserFile("--dnsmasq", f.dnsmasq, 1<<20)
		if err != nil {
			return err
		}
		req.Dnsmasq = &api.ImportFile{Path: f.dnsmasq, Content: string(b)}
	}
	ctx, cancel := callCtx(cmd)
	defer cancel()
	plan, err := c.client().PlanImport(ctx, req)
	if err != nil {
		return err
	}
	// Hash the assets the plan uses (and only those): the daemon then
	// knows which it already holds, and checks what it receives.
	if err := hashImportAssets(&req, plan); err != nil {
		return err
	}
	if len(plan.Assets) > 0 {
		if plan, err = c.client().PlanImport(ctx, req); err != nil {
			return err
		}
	}
	if !f.dryRun {
		var copies []string
		var size int64
		for _, a := range plan.Assets {
			if a.Action == api.AssetCopy {
				copies = append(copies, a.From)
				size += a.Size
			}
		}
		if len(copies) > 0 {
			fmt.Fprintf(c.errOut, "sending %d file(s), %.1f MB, to pixie's asset store...\n", len(copies), float64(size)/1e6)
		}
		// Copying hundreds of MB takes longer than one API call may.
		plan, err = c.client().ApplyImport(cmd.Context(), req, copies, func(p string) (io.ReadCloser, error) {
			return os.Open(filepath.Join(req.Root, filepath.FromSlash(p)))
		})
		if err != nil {
			return err
		}
	}
	if c.json {
		return printJSON(c.out, plan)
	}
	_, err = fmt.Fprint(c.out, formatImport(plan, source, dir))
	return err
}

// Limits on what the CLI reads as config files.
const (
	importFileMax  = 4 << 20
	importFilesMax = api.MaxImportBytes - 1<<20
)

// readImportTree reads the tree's config files and lists its asset files
// (size only; hashImportAssets hashes the ones the plan uses).
func readImportTree(source, dir string) (api.ImportRequest, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return api.ImportRequest{}, err
	}
	fi, err := os.Stat(root)
	if err != nil {
		return api.ImportRequest{}, fileError("DIR", dir, err)
	}
	if !fi.IsDir() {
		return api.ImportRequest{}, fmt.Errorf("%s is a file: give the %s directory", dir, source)
	}
	configs := []string{"profiles", "groups", "ignition", "generic"}
	assets := []string{"assets"}
	if source == api.ImportBootcfg {
		configs, assets = []string{"data"}, []string{"images", "assets"}
		if !isDir(filepath.Join(root, "data")) && filepath.Base(root) == "data" {
			// The data directory itself: its images/ is beside it.
			root = filepath.Dir(root)
		}
		if !isDir(filepath.Join(root, "data")) {
			configs = []string{"specs", "spec", "machines", "ignition", "cloud"}
			if entries, err := os.ReadDir(root); err == nil {
				for _, e := range entries {
					if e.IsDir() && looksLikeMACDir(e.Name()) {
						configs = append(configs, e.Name())
					}
				}
			}
		}
	}
	req := api.ImportRequest{Source: source, Root: root}
	total := 0
	for _, sub := range configs {
		err := walkTree(root, sub, func(rel string, size int64) error {
			if size > importFileMax {
				return fmt.Errorf("%s is larger than %d MiB, too large for a config file: move it out of the directory", filepath.Join(root, rel), importFileMax>>20)
			}
			b, err := readUserFile("file", filepath.Join(root, rel), importFileMax)
			if err != nil {
				return err
			}
			if total += len(b); total > importFilesMax {
				return fmt.Errorf("the config files under %s add up to more than %d MiB: import a smaller directory", root, importFilesMax>>20)
			}
			req.Files = append(req.Files, api.ImportFile{Path: rel, Content: string(b)})
			return nil
		})
		if err != nil {
			return req, err
		}
	}
	for _, sub := range assets {
		err := walkTree(root, sub, func(rel string, size int64) error {
			req.Assets = append(req.Assets, api.ImportAsset{Path: rel, Size: size})
			return nil
		})
		if err != nil {
			return req, err
		}
	}
	return req, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func looksLikeMACDir(s string) bool {
	_, err := parseMAC(s)
	return err == nil
}

// walkTree calls fn for every regular file under root/sub (following
// symbolic links to files, as the old server did), with its slash path
// relative to root. A missing sub is no error.
func walkTree(root, sub string, fn func(rel string, size int64) error) error {
	base := filepath.Join(root, sub)
	if !isDir(base) {
		return nil
	}
	return filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return fileError("directory", p, err)
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil // a dangling link: the plan says the file is missing if it is used
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel), fi.Size())
	})
}

// hashImportAssets sets the SHA-256 of every asset the plan uses.
func hashImportAssets(req *api.ImportRequest, plan api.ImportPlan) error {
	used := map[string]bool{}
	for _, a := range plan.Assets {
		used[a.From] = true
	}
	for i, a := range req.Assets {
		if !used[a.Path] || a.SHA256 != "" {
			continue
		}
		p := filepath.Join(req.Root, filepath.FromSlash(a.Path))
		fh, err := os.Open(p)
		if err != nil {
			return fileError("asset", p, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return fileError("asset", p, err)
		}
		req.Assets[i].SHA256, req.Assets[i].Size = hex.EncodeToString(h.Sum(nil)), n
	}
	return nil
}

// formatImport prints the summary table and what to do next.
func formatImport(p api.ImportPlan, source, dir string) string {
	var rows [][]string
	count := map[string]int{}
	for _, r := range p.Rows {
		count[r.Status]++
		detail := append([]string{}, r.Changes...)
		if r.Reason != "" {
			detail = append([]string{r.Reason}, detail...)
		}
		if len(detail) == 0 {
			detail = []string{"-"}
		}
		rows = append(rows, []string{r.Kind, r.Name, r.Status, detail[0]})
		for _, d := range detail[1:] {
			rows = append(rows, []string{"", "", "", d})
		}
	}
	var b strings.Builder
	b.WriteString(table([]string{"KIND", "NAME", "STATUS", "DETAIL"}, rows))
	fmt.Fprintf(&b, "\n%d imported, %d replaced, %d unchanged, %d kept as pixie has them, %d skipped.\n",
		count[api.ImportImported], count[api.ImportReplaced], count[api.ImportUnchanged], count[api.ImportKept], count[api.ImportSkipped])
	if s := p.Serve; s != nil {
		b.WriteString("\nFrom the dnsmasq.conf: start pixie with `sudo pixie serve")
		if len(s.Flags) > 0 {
			b.WriteString(" " + strings.Join(s.Flags, " "))
		}
		b.WriteString("` (and stop dnsmasq's DHCP/TFTP: pixie does both).\n")
		for _, n := range s.Notes {
			b.WriteString("  " + n + "\n")
		}
	}
	switch {
	case !p.Applied:
		fmt.Fprintf(&b, "\nDry run: nothing was changed. Run `pixie import %s %s` without --dry-run to import.\n", source, dir)
	case count[api.ImportImported]+count[api.ImportReplaced] == 0:
		b.WriteString("\nNothing to change: pixie already holds what the directory says.\n")
	default:
		b.WriteString("\nImported. See `pixie profiles list` and `pixie machines list`; machines pick up their new profile at their next boot.\n")
	}
	if count[api.ImportKept] > 0 {
		b.WriteString("Some things pixie already had differ from the directory: --replace updates them.\n")
	}
	return b.String()
}
