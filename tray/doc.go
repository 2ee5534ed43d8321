// Package tray is pixie's unprivileged menu-bar app, minus the drawing: a
// Controller that keeps the menu's state live from the daemon's control
// socket and carries out clicks.
//
// It talks to the daemon only through package api — never the database,
// never as root. The pieces:
//
//   - tray/menu: the menu as a pure model (state in, items out; clicks in,
//     API and desktop calls out), tested with tables;
//   - tray (this package): follows the daemon's event stream and reads
//     status, recent boots and profiles after each burst of events, shows
//     "Service not running" when the daemon goes away and recovers by
//     itself when it comes back;
//   - tray/desktop: the OS commands clicks need (clipboard, open, admin
//     prompt);
//   - tray/menubar: the thin binding to fyne.io/systray that draws the
//     items and routes clicks back.
package tray
