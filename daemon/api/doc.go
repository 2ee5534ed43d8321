// Package api is pixie's control-socket API: the JSON types that travel over
// the daemon's Unix socket and a typed client for them.
//
// The CLI and the menu-bar tray both use this package, so it deliberately
// depends on nothing inside the daemon: its types mirror the store's, and the
// daemon's control server converts between the two. A client built from it
// can only do what the daemon's HTTP endpoints allow, and none of them reads
// or serves a host path the caller names (the one exception, an import's
// --link, hard-links only a file whose SHA-256 the caller sent after reading
// it itself: see package importer).
//
// The wire protocol is plain HTTP/1.1 with JSON bodies under /v1/:
//
//	GET    /v1/status                       Status
//	POST   /v1/pause, /v1/resume            Status after the change
//	GET    /v1/machines                     []Machine
//	GET    /v1/machines/{mac}               Machine
//	PUT    /v1/machines/{mac}               Machine (creates or replaces)
//	DELETE /v1/machines/{mac}               204
//	GET    /v1/machines/{mac}/timeline      []Event, oldest first (?limit=N)
//	GET    /v1/profiles                     []Profile
//	POST   /v1/profiles                     Profile (201; 409 "exists")
//	GET    /v1/profiles/{name}              Profile
//	PUT    /v1/profiles/{name}              Profile (replaces an existing one)
//	DELETE /v1/profiles/{name}              204 (409 "in_use")
//	POST   /v1/profiles/from-os             OSProfileResult (a profile made from an OS and a pulled image)
//	POST   /v1/pulls                        Pull (202; 200 with joined when that image is being pulled)
//	GET    /v1/pulls                        []Pull: running and recently ended
//	GET    /v1/pulls/{id or image}          Pull
//	DELETE /v1/pulls/{id or image}          Pull, cancelled
//	POST   /v1/import/plan                  ImportPlan: what an import of the request's tree would do (nothing changes)
//	POST   /v1/import                       ImportPlan, applied: multipart, the ImportRequest then the assets it copies
//	GET    /v1/images                       []Image
//	DELETE /v1/images/{id}                  204 (409 "in_use" while it is being pulled)
//	GET    /v1/boots                        []BootSummary, newest first (?limit=N)
//	GET    /v1/events                       Server-Sent Events (?after=ID): "boot" events, and "pull" snapshots
//
// Failures carry a JSON body {"code": ..., "message": ...}, returned by the
// client as *Error.
package api
