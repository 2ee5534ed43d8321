// Package tray is pixie's unprivileged menu-bar app: a menu model fed by the
// daemon's control socket (github.com/pixie-boot/pixie/daemon/api) and a
// thin binding to the system tray. It never touches the database or needs
// root; everything it shows and changes goes through the control API.
package tray
