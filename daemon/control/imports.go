package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/importer"
	"github.com/pixie-boot/pixie/daemon/store"
)

// planImport answers what an import would do (POST /v1/import/plan); it
// changes nothing.
func (s *Server) planImport(w http.ResponseWriter, r *http.Request) {
	var in api.ImportRequest
	if !decodeBodyLimit(w, r, &in, api.MaxImportBytes) {
		return
	}
	plan, ok := s.makeImportPlan(w, r, in)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, apiImportPlan(plan, false))
}

// applyImport applies an import (POST /v1/import): a multipart body whose
// first part, "request", is the ImportRequest, followed by one "asset"
// part per asset the plan copies, named by its path in the tree. The
// assets are staged in the asset store, the store's writes happen in one
// transaction, and the staged files are moved into place just before it
// commits: a failure anywhere leaves pixie as it was.
func (s *Server) applyImport(w http.ResponseWriter, r *http.Request) {
	ctype, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ctype != "multipart/form-data" || params["boundary"] == "" {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "POST /v1/import takes a multipart/form-data body (the request, then the assets): use `pixie import`, or POST /v1/import/plan for a dry run")
		return
	}
	mr, _ := r.MultipartReader()
	first, err := mr.NextPart()
	if err != nil || first.FormName() != "request" {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "the import body's first part must be the request (a part named \"request\" holding the JSON ImportRequest)")
		return
	}
	var in api.ImportRequest
	dec := json.NewDecoder(io.LimitReader(first, api.MaxImportBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "malformed import request: "+err.Error())
		return
	}
	plan, ok := s.makeImportPlan(w, r, in)
	if !ok {
		return
	}
	ctx := r.Context()
	what := "import from " + in.Source + " " + in.Root
	if n, size := copiesOf(plan); n > 0 {
		s.deps.Hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: fmt.Sprintf("%s: receiving %d asset(s), %d MB", what, n, (size+1<<20-1)>>20)})
	}
	st, err := s.stageImport(in, plan)
	if err != nil {
		s.importFailed(w, r, err)
		return
	}
	// Cleaned up before answering, on every path: the client may look at
	// the asset store as soon as it has the answer.
	defer st.cleanup()
	if err := st.receive(mr); err != nil {
		st.cleanup()
		s.importFailed(w, r, err)
		return
	}
	batch := importBatch(plan)
	err = s.deps.Store.ApplyImport(ctx, batch, st.moveIn)
	if err != nil {
		st.undo()
		st.cleanup()
		s.importFailed(w, r, err)
		return
	}
	st.cleanup()
	s.deps.Hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: fmt.Sprintf("%s applied: %d profile(s), %d machine(s), %d asset(s) written%s",
		what, len(batch.Profiles), len(batch.Machines), len(st.moved), defaultNote(batch.DefaultProfile))})
	s.audit(r, "control: import applied", "source", in.Source, "root", in.Root, "profiles", len(batch.Profiles), "machines", len(batch.Machines),
		"default", batch.DefaultProfile, "assets", len(st.moved))
	writeJSON(w, http.StatusOK, apiImportPlan(plan, true))
}

// importError is a failure of the import's own making (the client sent
// less or other than its plan says, a link across file systems): a 400
// with the message as it is.
type importError struct{ msg string }

func (e *importError) Error() string { return e.msg }

func importErrorf(format string, args ...any) error {
	return &importError{msg: fmt.Sprintf(format, args...)}
}

func copiesOf(p importer.Plan) (int, int64) {
	n, size := 0, int64(0)
	for _, a := range p.Assets {
		if a.Action == api.AssetCopy {
			n, size = n+1, size+a.Size
		}
	}
	return n, size
}

func defaultNote(def string) string {
	if def == "" {
		return ""
	}
	return ", default profile " + def
}

func (s *Server) importFailed(w http.ResponseWriter, r *http.Request, err error) {
	var ie *importError
	if errors.As(err, &ie) {
		writeError(w, http.StatusBadRequest, api.CodeInvalid, ie.msg+" (nothing was imported)")
		return
	}
	s.fail(w, r, err)
}

// makeImportPlan plans the import against what the store holds now. On
// failure it has answered the request.
func (s *Server) makeImportPlan(w http.ResponseWriter, r *http.Request, in api.ImportRequest) (importer.Plan, bool) {
	ex, err := s.importExisting(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return importer.Plan{}, false
	}
	plan, err := importer.Make(in, ex)
	if errors.Is(err, importer.ErrRequest) {
		writeError(w, http.StatusBadRequest, api.CodeInvalid, err.Error())
		return plan, false
	}
	if err != nil {
		s.fail(w, r, err)
		return plan, false
	}
	if s.assetsDir() == "" && len(plan.Assets) > 0 {
		writeError(w, http.StatusNotImplemented, api.CodeInternal, "this pixie daemon has no asset store to import kernels and initrds into")
		return plan, false
	}
	return plan, true
}

func (s *Server) assetsDir() string {
	if s.deps.Pulls == nil {
		return ""
	}
	return s.deps.Pulls.Assets()
}

// importExisting is the store's state as the planner sees it.
func (s *Server) importExisting(ctx context.Context) (importer.Existing, error) {
	ex := importer.Existing{Profiles: map[string]store.Profile{}, Machines: map[string]store.Machine{}}
	ps, err := s.deps.Store.Profiles(ctx)
	if err != nil {
		return ex, err
	}
	for _, p := range ps {
		ex.Profiles[p.Name] = p
	}
	ms, err := s.deps.Store.Machines(ctx)
	if err != nil {
		return ex, err
	}
	for _, m := range ms {
		ex.Machines[m.MAC] = m
	}
	if def, err := s.deps.Store.Setting(ctx, store.SettingDefaultProfile); err == nil {
		ex.DefaultProfile = def
	}
	if dir := s.assetsDir(); dir != "" {
		ex.Asset = func(p string) (string, bool) { return assetSHA(dir, p) }
	}
	return ex, nil
}

// importBatch is what the plan writes to the store.
func importBatch(p importer.Plan) store.ImportBatch {
	var b store.ImportBatch
	for _, c := range p.Profiles {
		if c.Status == api.ImportImported || c.Status == api.ImportReplaced {
			b.Profiles = append(b.Profiles, c.Profile)
		}
	}
	for _, c := range p.Machines {
		if c.Status == api.ImportImported || c.Status == api.ImportReplaced {
			b.Machines = append(b.Machines, c.Machine)
		}
	}
	if d := p.Default; d != nil && (d.Status == api.ImportImported || d.Status == api.ImportReplaced) {
		b.DefaultProfile = d.Profile
	}
	return b
}

func apiImportPlan(p importer.Plan, applied bool) api.ImportPlan {
	out := api.ImportPlan{Source: p.Source, Root: p.Root, Default: p.Default, Assets: p.Assets, Serve: p.Serve, Rows: p.Rows, Applied: applied,
		Profiles: []api.ImportProfile{}, Machines: []api.ImportMachine{}}
	for _, c := range p.Profiles {
		out.Profiles = append(out.Profiles, api.ImportProfile{Profile: apiProfile(c.Profile), Status: c.Status, From: c.From})
	}
	for _, c := range p.Machines {
		out.Machines = append(out.Machines, api.ImportMachine{Machine: apiMachine(c.Machine), Status: c.Status, From: c.From})
	}
	if out.Assets == nil {
		out.Assets = []api.ImportAssetPlan{}
	}
	if out.Rows == nil {
		out.Rows = []api.ImportRow{}
	}
	return out
}
