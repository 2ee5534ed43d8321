package ui

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

//go:embed static
var staticFiles embed.FS

// indexTemplate is the page's shell: the CSRF token rides in a meta tag,
// where the page's script reads it (no inline script under the CSP).
var indexTemplate = template.Must(template.ParseFS(staticFiles, "static/index.html"))

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	ss, _ := s.sessionOf(r)
	_ = indexTemplate.Execute(w, struct{ CSRF string }{ss.csrf})
}

func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree has it: a build mistake
	}
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}

// messageTemplate is what a browser that may not see the dashboard gets.
var messageTemplate = template.Must(template.New("message").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pixie: {{.Title}}</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body class="message"><main><h1>{{.Title}}</h1><p>{{.Body}}</p></main></body></html>
`))

// page writes a short HTML message; body is trusted markup from this
// package, never a value from the request.
func page(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = messageTemplate.Execute(w, struct {
		Title string
		Body  template.HTML
	}{title, template.HTML(body)})
}
