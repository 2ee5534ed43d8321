// Package textpages gives back the pages of the daemon's own executable
// that start-up mapped and serving never uses again.
//
// Why: when a process first touches a page of its executable the kernel
// maps more than that page: up to 64 KB around it ("fault-around"), and on
// recent kernels (6.18 here) the whole large folio the page cache holds it
// in, up to 2 MB for a file just written. Go runs every linked package's
// initialisation at start, scattered over the whole binary, so a freshly
// started pixie had 18–20 MB of its 29 MB binary in its resident set
// (8.8 MB of code, 6.8 MB of read-only data and tables) against 3.6 MB of
// memory of its own. Those pages are the file's, shared and reclaimable,
// but they are what RSS, `top` and a person comparing pixie with dnsmasq
// see. Release drops the process's mappings of them and, when nothing
// else maps them, their large folios from the page cache; whatever pixie
// runs later is read back a page at a time.
package textpages
