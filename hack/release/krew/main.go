// Command krew packs the kubectl-cx binaries of a release into one
// tar.gz archive per platform and renders the krew manifest
// plugins/cx.yaml with their URIs and sha256 digests.
// `make krew-manifest` runs it:
//
//	go run ./hack/release/krew --version v0.3.0 --out bin \
//	    --binary linux/amd64=bin/linux_amd64/kubectl-cx ...
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"
)

// semver is the version form krew accepts.
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// Platform is one entry of the manifest.
type Platform struct {
	OS, Arch string
	// URI is where the release serves the archive.
	URI string
	// SHA256 is the archive's digest, which krew checks after download.
	SHA256 string
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "krew:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("krew", flag.ContinueOnError)
	version := fs.String("version", "", "The release, as linked into the binaries.")
	out := fs.String("out", "bin", "The directory the archives and cx.yaml are written to.")
	tmpl := fs.String("template", "plugins/cx.yaml", "The manifest template.")
	base := fs.String("url", "https://github.com/cxloop/cxloop/releases/download/{{.Version}}", "Where the release serves the archives; {{.Version}} is replaced.")
	binaries := map[string]string{}
	fs.Func("binary", "OS/ARCH=PATH of a kubectl-cx binary (repeatable).", func(v string) error {
		p, path, ok := strings.Cut(v, "=")
		if !ok || !strings.Contains(p, "/") || path == "" {
			return fmt.Errorf("want OS/ARCH=PATH, got %q", v)
		}
		binaries[p] = path
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(binaries) == 0 {
		return fmt.Errorf("no --binary given")
	}
	if !semver.MatchString(*version) {
		return fmt.Errorf("version %q is not v-prefixed semver (v0.3.0), which krew requires: pass VERSION=vX.Y.Z", *version)
	}
	urlBase := strings.ReplaceAll(*base, "{{.Version}}", *version)
	names := make([]string, 0, len(binaries))
	for p := range binaries {
		names = append(names, p)
	}
	sort.Strings(names)
	var platforms []Platform
	for _, p := range names {
		osName, arch, _ := strings.Cut(p, "/")
		archive := fmt.Sprintf("kubectl-cx_%s_%s.tar.gz", osName, arch)
		sum, err := pack(binaries[p], filepath.Join(*out, archive))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		platforms = append(platforms, Platform{OS: osName, Arch: arch, URI: urlBase + "/" + archive, SHA256: sum})
	}
	manifest, err := render(*tmpl, *version, platforms)
	if err != nil {
		return err
	}
	path := filepath.Join(*out, "cx.yaml")
	if err := os.WriteFile(path, manifest, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %d archives\n", path, len(platforms))
	return nil
}

// pack writes an archive holding the binary as kubectl-cx (what the
// manifest's bin and files name) and returns its sha256. Fixed times and
// owners make one binary pack to one digest.
func pack(binary, archive string) (string, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	h := &tar.Header{Name: "kubectl-cx", Mode: 0o755, Size: int64(len(bin)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(h); err != nil {
		return "", err
	}
	if _, err := tw.Write(bin); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:]), nil
}

// render fills the manifest template.
func render(path, version string, platforms []Platform) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := template.New(filepath.Base(path)).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, struct {
		Version   string
		Platforms []Platform
	}{version, platforms}); err != nil {
		return nil, fmt.Errorf("render %s: %w", path, err)
	}
	return buf.Bytes(), nil
}
