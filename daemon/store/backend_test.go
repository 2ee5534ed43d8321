package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pixie-boot/pixie/internal/pgtest"
)

// testPG is this test binary's PostgreSQL cluster, started by the first
// test that needs it and stopped by TestMain.
var testPG pgtest.Cluster

func TestMain(m *testing.M) {
	code := m.Run()
	testPG.Stop()
	os.Exit(code)
}

// backend is one engine the store suite runs against.
type backend struct {
	name string
	// fresh returns the location of a new, empty database (a file path
	// or a postgres:// URL), removed when t ends.
	fresh func(t *testing.T) string
}

var testBackends = []backend{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "pixie.db") }},
	{"postgres", func(t *testing.T) string { return testPG.NewDatabase(t) }},
}

// open opens a store on a fresh database, closed when t ends.
func (b backend) open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), b.fresh(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachBackend runs f once per engine, as subtests named for it: the
// same store suite on SQLite and on PostgreSQL.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// openTest opens a fresh SQLite store, for the tests that are about
// SQLite itself (its pragmas, its full-disk error).
func openTest(t *testing.T) *Store {
	t.Helper()
	return testBackends[0].open(t)
}
