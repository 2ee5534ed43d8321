package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
)

// Import sources.
const (
	ImportMatchbox = "matchbox" // /var/lib/matchbox: profiles/, groups/, ignition/, generic/, assets/
	ImportBootcfg  = "bootcfg"  // the guide's coreos-baremetal data/: specs/, ignition/, machines/ or per-MAC dirs, images/
)

// MaxImportBytes bounds an import request's JSON (the tree's configs);
// assets are streamed after it and are not counted.
const MaxImportBytes = 32 << 20

// ImportRequest asks the daemon to plan (and, sent to ApplyImport, to
// apply) moving a matchbox or bootcfg tree into pixie. The client reads the
// tree with its user's permissions and sends what it read: the daemon opens
// no path the caller names, except to hard-link an asset with Link, and
// then only a file whose SHA-256 the client sent (see package importer).
type ImportRequest struct {
	Source string `json:"source"`
	// Root is the tree's absolute path as the client saw it: messages name
	// files by it, and Link resolves asset paths under it.
	Root string `json:"root"`
	// Files are the tree's config files (profiles, groups, specs,
	// machines, Ignition/Butane and generic templates): slash-separated
	// paths relative to Root, with their text.
	Files []ImportFile `json:"files"`
	// Assets are the asset files found under the tree (kernels, initrds):
	// path, size and, once hashed, SHA-256.
	Assets []ImportAsset `json:"assets,omitempty"`
	// Dnsmasq is a dnsmasq.conf to turn into `pixie serve` settings.
	Dnsmasq *ImportFile `json:"dnsmasq,omitempty"`
	// Prefix goes in front of every profile name made.
	Prefix string `json:"prefix,omitempty"`
	// Default chooses the group (matchbox id) or machine (bootcfg id)
	// whose profile becomes the default, when the tree has several.
	Default string `json:"default,omitempty"`
	// Link hard-links assets into the asset store instead of copying them.
	Link bool `json:"link,omitempty"`
	// Replace updates profiles and machines that exist and differ.
	Replace bool `json:"replace,omitempty"`
}

// ImportFile is one file of the tree, by path relative to its root.
type ImportFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// ImportAsset is one asset file of the tree.
type ImportAsset struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// Import statuses of a summary row.
const (
	ImportImported  = "imported"  // new in pixie
	ImportReplaced  = "replaced"  // existed and was updated (--replace)
	ImportUnchanged = "unchanged" // already in pixie as the tree says
	ImportKept      = "kept"      // exists in pixie and differs; --replace updates it
	ImportSkipped   = "skipped"   // not imported: Reason says why
)

// ImportPlan is what an import does (dry run) or did (Applied).
type ImportPlan struct {
	Source   string          `json:"source"`
	Root     string          `json:"root"`
	Profiles []ImportProfile `json:"profiles"`
	Machines []ImportMachine `json:"machines"`
	// Default is the profile machines pixie does not know boot, when the
	// import sets it.
	Default *ImportDefault    `json:"default,omitempty"`
	Assets  []ImportAssetPlan `json:"assets"`
	Serve   *ImportServe      `json:"serve,omitempty"`
	// Rows are the summary: one per thing found in the tree.
	Rows    []ImportRow `json:"rows"`
	Applied bool        `json:"applied"`
}

// ImportProfile is a profile the import makes, with its row's status.
type ImportProfile struct {
	Profile Profile `json:"profile"`
	Status  string  `json:"status"`
	From    string  `json:"from"`
}

// ImportMachine is a machine the import makes.
type ImportMachine struct {
	Machine Machine `json:"machine"`
	Status  string  `json:"status"`
	From    string  `json:"from"`
}

// ImportDefault is the default profile the import sets.
type ImportDefault struct {
	Profile string `json:"profile"`
	Was     string `json:"was"`
	Status  string `json:"status"`
	From    string `json:"from"`
}

// Asset actions.
const (
	AssetCopy    = "copy"    // streamed into the asset store
	AssetLink    = "link"    // hard-linked into the asset store
	AssetPresent = "present" // the store holds it already, same content
)

// ImportAssetPlan is one asset the imported profiles use: From in the tree,
// To in pixie's asset store.
type ImportAssetPlan struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	Action string `json:"action"`
}

// ImportServe is what a dnsmasq.conf means for `pixie serve`.
type ImportServe struct {
	// Flags are the `pixie serve` flags that give the same setup.
	Flags []string `json:"flags"`
	// Notes say, line by line, what became of the rest of the file.
	Notes []string `json:"notes"`
}

// ImportRow is one line of the summary.
type ImportRow struct {
	Kind    string   `json:"kind"` // profile, machine, default, asset, config, dnsmasq
	Name    string   `json:"name"`
	From    string   `json:"from"`
	Status  string   `json:"status"`
	Changes []string `json:"changes,omitempty"` // what was changed on the way, and how
	Reason  string   `json:"reason,omitempty"`  // why it was skipped or kept
}

// PlanImport asks what an import would do; it changes nothing.
func (c *Client) PlanImport(ctx context.Context, r ImportRequest) (ImportPlan, error) {
	var out ImportPlan
	err := c.do(ctx, http.MethodPost, "/v1/import/plan", nil, r, &out)
	return out, err
}

// ApplyImport applies an import in one step: the request, then the content
// of every asset the plan copies (open names the tree path to read),
// streamed in one multipart body. The daemon applies the whole plan or
// changes nothing.
func (c *Client) ApplyImport(ctx context.Context, r ImportRequest, copies []string, open func(path string) (io.ReadCloser, error)) (ImportPlan, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeImportBody(mw, r, copies, open))
	}()
	var out ImportPlan
	resp, err := c.sendRaw(ctx, http.MethodPost, "/v1/import", mw.FormDataContentType(), pr)
	pr.Close()
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return out, fmt.Errorf("read the pixie daemon's answer to the import: it is not the JSON a pixie daemon sends (%w): check that %s is the pixie daemon's socket and that the daemon is as new as this pixie", err, c.socket)
	}
	return out, nil
}

// writeImportBody writes the request part, then one part per asset copied.
func writeImportBody(mw *multipart.Writer, r ImportRequest, copies []string, open func(string) (io.ReadCloser, error)) error {
	w, err := mw.CreateFormField("request")
	if err != nil {
		return err
	}
	if err := json.NewEncoder(w).Encode(r); err != nil {
		return err
	}
	for _, p := range copies {
		f, err := open(p)
		if err != nil {
			return err
		}
		w, err := mw.CreateFormFile("asset", p)
		if err == nil {
			_, err = io.Copy(w, f)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("send %s: %w", p, err)
		}
	}
	return mw.Close()
}
