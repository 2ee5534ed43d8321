# pixie — network boot for CoreOS-family machines.
#   make run     build and run the daemon on this machine's LAN, as root:
#                directly when you are root, else through sudo (ARGS="..."
#                adds `pixie serve` flags, e.g. ARGS="--interface eth0")
#   make test    install test dependencies (as root) and run every test
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Keep build flags identical across targets: mattn/go-sqlite3 is compiled
# with cgo once (~80 s) and then comes from the build cache.
BUILD   := CGO_ENABLED=1 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

.PHONY: all build run test test-short vet firmware embedded demo clean bench bench-quick fuzz

all: build

build:
	$(BUILD) -o bin/pixie ./cmd/pixie

# PIXIE_BIN is what runs; tests put a stub there.
PIXIE_BIN ?= ./bin/pixie
ARGS      ?=
run: build
	sh scripts/run-as-root.sh $(PIXIE_BIN) serve $(ARGS)

test:
	./packaging/dev/test-deps.sh
	$(GO) vet ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) vet $$($(GO) list ./... | grep -v -e /internal/testnet -e /e2e)
	$(GO) test -count=1 -timeout 40m ./...

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) vet $$($(GO) list ./... | grep -v -e /internal/testnet -e /e2e)

# Fetch Debian's iPXE build and its signed shim and GRUB into assets/firmware
# (build inputs, not in git). The iPXE fetch needs no dpkg (packaging/debextract
# unpacks the .deb), so it runs on a Mac: apt-get download where apt exists,
# else the pinned .deb over HTTPS, or IPXE_DEB=FILE.deb.
firmware:
	bash ./assets/firmware/fetch-debian-ipxe.sh
	bash ./assets/firmware/fetch-debian-loaders.sh

# A self-contained binary with the iPXE firmware built in (for CoreOS hosts,
# which have no iPXE package).
embedded: firmware
	$(BUILD) -o bin/pixie-embedded ./cmd/pixie
	@echo "bin/pixie-embedded carries the iPXE firmware; its GPL-2.0 notice is assets/firmware/COPYING.ipxe"

# Watch a VM network-boot from pixie on a private virtual LAN (needs root).
demo:
	PIXIE_DEMO=1 $(GO) test -count=1 -timeout 0 -run TestDemo -v ./daemon/e2e/

# Side-by-side benchmarks against dnsmasq, tftpd-hpa and nginx, and the
# boot storm (root; namespaces only). Results: docs/performance.md.
bench:
	bash bench/run-all.sh

bench-quick:
	QUICK=1 bash bench/run-all.sh

# Every Go fuzz target in the module (scripts/fuzz.sh finds them by name:
# DHCP replies, link-layer frames and BPF records, TFTP names, HTTP paths,
# iPXE/GRUB rendering, Ignition, MACs, routing-socket replies, launchctl
# output, .deb archives) for FUZZTIME each: 10s is a quick pass of a few
# minutes; `make fuzz FUZZTIME=5m` digs. Plain `make test` runs only their
# seed corpora.
FUZZTIME ?= 10s
fuzz:
	sh scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin

# --- macOS app and installer (run on a Mac; see packaging/macos) ---
#   make macos-app   bin/Pixie.app: the menu-bar app (cgo, fyne systray) with
#                    the pixie binary inside, always with the iPXE firmware
#                    embedded (`make firmware` first); codesigned (hardened
#                    runtime) when PIXIE_SIGN_IDENTITY names a "Developer ID
#                    Application" identity.
#   make macos-pkg   bin/Pixie-$(VERSION).pkg: installs Pixie.app in
#                    /Applications and the log rotation rule in
#                    /etc/newsyslog.d, links /usr/local/bin/pixie, and runs
#                    `pixie install service` (packaging/macos/scripts/
#                    postinstall); signed when PIXIE_INSTALLER_IDENTITY names a
#                    "Developer ID Installer" identity; notarized and
#                    stapled when PIXIE_NOTARY_PROFILE names a notarytool
#                    keychain profile (`xcrun notarytool store-credentials`).
MACOS_BUNDLE_VERSION = $(shell $(GO) run ./packaging/macos/mkbundle -bundle-version -version $(VERSION))

.PHONY: macos-app macos-pkg
macos-app: firmware
	@test "$$(uname -s)" = Darwin || { echo "macos-app builds on macOS only (cgo for the menu bar)"; exit 1; }
	@for f in undionly.kpxe ipxe.efi; do test -s assets/firmware/$$f || { echo "assets/firmware/$$f missing: the app must carry iPXE (run make firmware)"; exit 1; }; done
	$(BUILD) -o bin/darwin/pixie ./cmd/pixie
	$(BUILD) -o bin/darwin/pixie-tray ./cmd/pixie-tray
	$(GO) run ./packaging/macos/mkbundle -app bin/Pixie.app -version $(VERSION) \
		-pixie bin/darwin/pixie -tray bin/darwin/pixie-tray -icons assets/icons
	@if [ -n "$$PIXIE_SIGN_IDENTITY" ]; then \
		codesign --force --timestamp --options runtime --sign "$$PIXIE_SIGN_IDENTITY" bin/Pixie.app/Contents/MacOS/pixie && \
		codesign --force --timestamp --options runtime --sign "$$PIXIE_SIGN_IDENTITY" bin/Pixie.app && \
		codesign --verify --deep --strict bin/Pixie.app; \
	else echo "PIXIE_SIGN_IDENTITY not set: Pixie.app is not signed"; fi

macos-pkg: macos-app
	rm -rf bin/pkgroot && mkdir -p bin/pkgroot/Applications bin/pkgroot/private/etc/newsyslog.d
	cp -R bin/Pixie.app bin/pkgroot/Applications/
	# newsyslog rotates /Library/Logs/Pixie/pixie.log (/etc is a link to
	# /private/etc: a payload's etc/ would try to replace the link).
	cp packaging/launchd/pixie.newsyslog.conf bin/pkgroot/private/etc/newsyslog.d/pixie.conf
	pkgbuild --analyze --root bin/pkgroot bin/pixie-components.plist
	plutil -replace 0.BundleIsRelocatable -bool NO bin/pixie-components.plist
	pkgbuild --root bin/pkgroot --component-plist bin/pixie-components.plist \
		--identifier dev.pixie.pkg --version $(MACOS_BUNDLE_VERSION) \
		--scripts packaging/macos/scripts --install-location / bin/pixie-component.pkg
	@if [ -n "$$PIXIE_INSTALLER_IDENTITY" ]; then \
		productbuild --package bin/pixie-component.pkg --sign "$$PIXIE_INSTALLER_IDENTITY" bin/Pixie-$(VERSION).pkg; \
	else \
		echo "PIXIE_INSTALLER_IDENTITY not set: the .pkg is not signed"; \
		productbuild --package bin/pixie-component.pkg bin/Pixie-$(VERSION).pkg; \
	fi
	@if [ -n "$$PIXIE_NOTARY_PROFILE" ] && [ -n "$$PIXIE_INSTALLER_IDENTITY" ]; then \
		xcrun notarytool submit bin/Pixie-$(VERSION).pkg --keychain-profile "$$PIXIE_NOTARY_PROFILE" --wait && \
		xcrun stapler staple bin/Pixie-$(VERSION).pkg && \
		xcrun stapler validate bin/Pixie-$(VERSION).pkg; \
	elif [ -n "$$PIXIE_NOTARY_PROFILE" ]; then \
		echo "PIXIE_NOTARY_PROFILE set but PIXIE_INSTALLER_IDENTITY not: Apple notarizes only signed packages; not notarized"; \
	else echo "PIXIE_NOTARY_PROFILE not set: the .pkg is not notarized (Gatekeeper will warn on other Macs)"; fi
	@echo "bin/Pixie-$(VERSION).pkg"
