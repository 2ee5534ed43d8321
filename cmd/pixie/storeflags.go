package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/helper/service"
)

// storePasswordEnv is pixie's own variable for PostgreSQL's password
// (PGPASSWORD works too: the driver reads it).
const storePasswordEnv = "PIXIE_STORE_PASSWORD"

// storePassword checks --store and --store-password-file and returns the
// password to connect with: from the file, else from PIXIE_STORE_PASSWORD,
// else "" (the driver then tries PGPASSWORD and ~/.pgpass). A URL with a
// password in it is refused: `ps` and the service file would show it.
func storePassword(s service.Settings, getenv func(string) string) (string, error) {
	if !store.IsPostgres(s.Store) {
		if s.StorePasswordFile != "" {
			return "", usageErrorf("--store-password-file is for a PostgreSQL store: give --store postgres://USER@HOST/DATABASE too")
		}
		if strings.Contains(s.Store, "://") {
			return "", usageErrorf("--store %q: give a postgres:// URL or an SQLite file path", s.Store)
		}
		return "", nil
	}
	if _, err := store.CheckPostgresURL(s.Store); err != nil {
		return "", usageError(err)
	}
	if s.StorePasswordFile == "" {
		return getenv(storePasswordEnv), nil
	}
	fi, err := os.Stat(s.StorePasswordFile)
	if err != nil {
		return "", fmt.Errorf("--store-password-file %s: %v: create it with the password on one line (chmod 600)", s.StorePasswordFile, pathErr(err))
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("--store-password-file %s is readable by other users (mode %04o): run `chmod 600 %s` and start again", s.StorePasswordFile, fi.Mode().Perm(), s.StorePasswordFile)
	}
	b, err := os.ReadFile(s.StorePasswordFile)
	if err != nil {
		return "", fmt.Errorf("--store-password-file %s: %v", s.StorePasswordFile, pathErr(err))
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("--store-password-file %s is empty: put the password on its first line", s.StorePasswordFile)
	}
	return pw, nil
}

// pathErr is an os error without the path, which the caller names.
func pathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

var instanceRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$`)

// checkInstance accepts an instance name: what a host name may be, up to
// 63 characters ("" means the host name).
func checkInstance(name string) error {
	if name != "" && !instanceRE.MatchString(name) {
		return usageErrorf("--instance %q: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}
