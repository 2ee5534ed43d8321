# pixie — network boot for CoreOS-family machines.
#   make run     build and run the daemon on this machine's LAN (needs sudo)
#   make test    install test dependencies (as root) and run every test
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Keep build flags identical across targets: mattn/go-sqlite3 is compiled
# with cgo once (~80 s) and then comes from the build cache.
BUILD   := CGO_ENABLED=1 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

.PHONY: all build run test test-short vet firmware embedded demo clean

all: build

build:
	$(BUILD) -o bin/pixie ./cmd/pixie

run: build
	sudo ./bin/pixie serve

test:
	./packaging/dev/test-deps.sh
	$(GO) vet ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) vet $$($(GO) list ./... | grep -v -e /tray -e /internal/testnet -e /e2e)
	$(GO) test -count=1 -timeout 40m ./...

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) vet $$($(GO) list ./... | grep -v -e /tray -e /internal/testnet -e /e2e)

# Fetch Debian's iPXE build into assets/firmware (build inputs, not in git).
firmware:
	bash ./assets/firmware/fetch-debian-ipxe.sh

# A self-contained binary with the iPXE firmware built in (for CoreOS hosts,
# which have no iPXE package).
embedded: firmware
	$(BUILD) -o bin/pixie-embedded ./cmd/pixie
	@echo "bin/pixie-embedded carries the iPXE firmware; its GPL-2.0 notice is assets/firmware/COPYING.ipxe"

# Watch a VM network-boot from pixie on a private virtual LAN (needs root).
demo:
	PIXIE_DEMO=1 $(GO) test -count=1 -timeout 0 -run TestDemo -v ./daemon/e2e/

clean:
	rm -rf bin
