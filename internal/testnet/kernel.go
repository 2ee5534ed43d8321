package testnet

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// Kernel is an installed Debian kernel (linux-image-amd64) whose modules are
// present, so the test initrd can carry the matching virtio-net driver.
type Kernel struct {
	Path       string // /boot/vmlinuz-<Version>
	Version    string // e.g. 6.1.0-56-amd64
	ModulesDir string // /lib/modules/<Version>
	// Busybox is the static busybox the initrd for this kernel carries:
	// "" for the host's (Busybox), set for a foreign architecture's.
	Busybox string
}

// FindKernel returns the newest /boot/vmlinuz-* that has a modules.dep.
// It is not necessarily the running kernel (in a container that one's
// modules are usually absent); the VM boots this one.
func FindKernel() (Kernel, error) {
	k, err := findKernelIn("/")
	if err != nil {
		return Kernel{}, fmt.Errorf("%w (Debian package linux-image-amd64)", err)
	}
	return k, nil
}

// findKernelIn is FindKernel for a root directory holding boot/ and
// lib/modules/: "/" for the host's kernel, an unpacked cache for a foreign
// architecture's.
func findKernelIn(root string) (Kernel, error) {
	paths, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	var found []Kernel
	for _, p := range paths {
		v := strings.TrimPrefix(filepath.Base(p), "vmlinuz-")
		dir := filepath.Join(root, "lib", "modules", v)
		if _, err := os.Stat(filepath.Join(dir, "modules.dep")); err == nil {
			found = append(found, Kernel{Path: p, Version: v, ModulesDir: dir})
		}
	}
	if len(found) == 0 {
		return Kernel{}, fmt.Errorf("no %s with %s/<version>/modules.dep; saw %v",
			filepath.Join(root, "boot", "vmlinuz-*"), filepath.Join(root, "lib", "modules"), paths)
	}
	sort.Slice(found, func(i, j int) bool { return versionLess(found[i].Version, found[j].Version) })
	return found[len(found)-1], nil
}

// versionLess compares kernel versions number by number ("6.1.0-10" <
// "6.1.0-9" as strings, but not here).
func versionLess(a, b string) bool {
	as, bs := versionParts(a), versionParts(b)
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		if isNum(as[i]) && isNum(bs[i]) {
			if len(as[i]) != len(bs[i]) {
				return len(as[i]) < len(bs[i])
			}
		}
		return as[i] < bs[i]
	}
	return len(as) < len(bs)
}

// versionParts splits a version into runs of digits and runs of the rest,
// digits stripped of leading zeros.
func versionParts(v string) []string {
	var parts []string
	for len(v) > 0 {
		digit := unicode.IsDigit(rune(v[0]))
		i := 0
		for i < len(v) && unicode.IsDigit(rune(v[i])) == digit {
			i++
		}
		p := v[:i]
		if digit {
			p = strings.TrimLeft(p, "0")
			if p == "" {
				p = "0"
			}
		}
		parts = append(parts, p)
		v = v[i:]
	}
	return parts
}

func isNum(s string) bool { return s != "" && unicode.IsDigit(rune(s[0])) }

// Module is a kernel module file to put into an initrd.
type Module struct {
	Name string // virtio_net
	Path string // absolute path on the host, possibly compressed
}

// ModulesFor returns the modules named (with '-' or '_') and everything they
// depend on, per the kernel's modules.dep, in an order in which they can be
// insmod-ed one after the other: dependencies first. Modules built into the
// kernel (modules.builtin) are left out.
func (k Kernel) ModulesFor(names ...string) ([]Module, error) {
	deps, err := readModulesDep(filepath.Join(k.ModulesDir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(k.ModulesDir, "modules.builtin")); err == nil {
		for _, line := range strings.Fields(string(b)) {
			builtin[moduleName(line)] = true
		}
	}
	byName := map[string]string{} // name -> relative path
	for rel := range deps {
		byName[moduleName(rel)] = rel
	}

	var order []Module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle at %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		rel, ok := byName[name]
		if !ok {
			if builtin[name] {
				state[name] = 2
				return nil
			}
			return fmt.Errorf("module %s not in %s/modules.dep", name, k.ModulesDir)
		}
		for _, d := range deps[rel] {
			if err := visit(moduleName(d)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, Module{Name: name, Path: filepath.Join(k.ModulesDir, rel)})
		return nil
	}
	for _, n := range names {
		if err := visit(strings.ReplaceAll(n, "-", "_")); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// readModulesDep parses "kernel/a.ko: kernel/b.ko kernel/c.ko" lines.
func readModulesDep(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if ok {
			deps[mod] = strings.Fields(rest)
		}
	}
	return deps, sc.Err()
}

// moduleName turns "kernel/drivers/net/virtio_net.ko.xz" into "virtio_net".
func moduleName(path string) string {
	name := filepath.Base(path)
	if i := strings.Index(name, ".ko"); i >= 0 {
		name = name[:i]
	}
	return strings.ReplaceAll(name, "-", "_")
}

// Contents returns the module's uncompressed bytes: busybox insmod in the
// initrd only loads plain .ko files reliably. gzip is decompressed here,
// xz and zstd by the host's xz/zstd programs.
func (m Module) Contents() ([]byte, error) {
	raw, err := os.ReadFile(m.Path)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasSuffix(m.Path, ".ko"):
		return raw, nil
	case strings.HasSuffix(m.Path, ".ko.gz"):
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		return io.ReadAll(zr)
	case strings.HasSuffix(m.Path, ".ko.xz"):
		return decompressWith(raw, m.Path, "xz", "-dc")
	case strings.HasSuffix(m.Path, ".ko.zst"):
		return decompressWith(raw, m.Path, "zstd", "-dcq")
	}
	return nil, fmt.Errorf("%s: unknown module compression", m.Path)
}

func decompressWith(raw []byte, path, prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(prog, args...)
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("decompress %s with %s (install it): %w", path, prog, err)
	}
	return out, nil
}
