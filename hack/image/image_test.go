package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	testVersion = "v0.0.0-imagetest"
	fallbackPkg = "golang.org/x/crypto/x509roots/fallback"
)

// buildManager builds cmd/manager the way `make image` does (the same
// flags, so the two share Go's build cache).
func buildManager(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/cxloop/cxloop/internal/version.Version="+testVersion,
		"-o", bin, "./cmd/manager")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the manager: %v\n%s", err, out)
	}
	return bin
}

// The manager image built from the real manager: opened from the OCI
// archive with go-containerregistry, it runs /manager as 65532 with the
// build's version in its labels, and the binary in its one layer is
// static, links the CA roots, prints the same version and, taken out of
// the image, runs against a real control plane; one platform weighs
// under half the 60 MB the two-platform archive may.
func TestManagerImage(t *testing.T) {
	dir := t.TempDir()
	manager := buildManager(t, dir)
	platform := "linux/" + runtime.GOARCH
	archive := filepath.Join(dir, "cxloop-manager.oci.tar")
	args := []string{"--out", archive, "--version", testVersion, "--revision", "0123abcd",
		"--created", "2026-01-02T03:04:05Z", "--binary", platform + "=" + manager}
	if err := run(args); err != nil {
		t.Fatal(err)
	}

	idx, err := layout.ImageIndexFromPath(untar(t, archive))
	if err != nil {
		t.Fatalf("open the archive as an OCI layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index lists %d manifests, want 1", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if desc.MediaType != types.OCIManifestSchema1 || desc.Platform == nil || desc.Platform.String() != platform ||
		desc.Annotations["org.opencontainers.image.ref.name"] != testVersion {
		t.Fatalf("index entry: %+v", desc)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Config.Entrypoint, " "); got != "/manager" {
		t.Errorf("entrypoint %q, want /manager", got)
	}
	if uid, _, _ := strings.Cut(cfg.Config.User, ":"); uid != "65532" {
		t.Errorf("user %q, want UID 65532", cfg.Config.User)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("config platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if cfg.RootFS.Type != "layers" || len(cfg.RootFS.DiffIDs) != 1 {
		t.Errorf("config rootfs %+v, want one layer of type layers", cfg.RootFS)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": "0123abcd",
		"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
		"org.opencontainers.image.source":   "https://github.com/cxloop/cxloop",
	} {
		if got := cfg.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}

	files := layerFiles(t, img)
	bin, ok := files["manager"]
	if !ok {
		t.Fatalf("no /manager in the layer; it holds %v", keys(files))
	}
	if bin.hdr.Mode != 0o755 || bin.hdr.Uid != 0 {
		t.Errorf("/manager mode %o owner %d: want 755 and root, so the user it runs as cannot rewrite it", bin.hdr.Mode, bin.hdr.Uid)
	}
	if tmp, ok := files["tmp/"]; !ok || tmp.hdr.Mode != 0o1777 {
		t.Errorf("no world-writable /tmp for the emptyDir: %+v", tmp.hdr)
	}
	if !strings.Contains(string(files["etc/passwd"].body), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd does not name UID 65532: %q", files["etc/passwd"].body)
	}

	extracted := filepath.Join(dir, "extracted-manager")
	if err := os.WriteFile(extracted, bin.body, 0o755); err != nil {
		t.Fatal(err)
	}
	assertStatic(t, extracted)
	info, err := buildinfo.ReadFile(extracted)
	if err != nil {
		t.Fatal(err)
	}
	linked := false
	for _, d := range info.Deps {
		linked = linked || d.Path == fallbackPkg
	}
	if !linked || !bytes.Contains(bin.body, []byte(fallbackPkg+".init")) {
		t.Errorf("the manager does not link %s: HTTPS would have no CA roots on an empty base", fallbackPkg)
	}
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" && s.Value != "0" {
			t.Errorf("built with CGO_ENABLED=%s", s.Value)
		}
	}
	if runtime.GOOS == "linux" {
		out, err := exec.Command(extracted, "--version").Output()
		if err != nil {
			t.Fatalf("manager --version: %v", err)
		}
		if !strings.HasPrefix(string(out), "manager "+testVersion+" ") {
			t.Errorf("manager --version printed %q, want the image's version %s", out, testVersion)
		}
		runsAgainstAControlPlane(t, extracted)
	}
	if n := compressedSize(t, archive); n >= maxCompressedPerPlatform {
		t.Errorf("one platform's archive weighs %.1f MB compressed, over %d MB", float64(n)/1e6, maxCompressedPerPlatform>>20)
	} else {
		t.Logf("one platform's archive: %.1f MB compressed", float64(n)/1e6)
	}

	// One commit builds one archive, byte for byte.
	again := filepath.Join(dir, "again.oci.tar")
	if err := run(append(args, "--out", again)); err != nil {
		t.Fatal(err)
	}
	if sum(t, archive) != sum(t, again) {
		t.Error("two builds of the same binary differ")
	}

	// What an empty base cannot run is refused, not packed.
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	for _, tc := range []struct{ binary, platform, want string }{
		{manager, "linux/" + other, "built for"},
		{manager, "darwin/" + runtime.GOARCH, "runs on linux"},
		{dynamicBinary(t), platform, "dynamically linked"},
	} {
		err := run([]string{"--out", filepath.Join(dir, "refused.tar"), "--version", testVersion, "--binary", tc.platform + "=" + tc.binary})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s as %s: got %v, want an error saying %q", tc.binary, tc.platform, err, tc.want)
		}
	}
}

// assertStatic fails unless the binary at path needs no loader and no
// shared library.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the manager names an ELF interpreter: it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the manager links %v", libs)
	}
}

// dynamicBinary is a dynamically linked executable of this machine.
func dynamicBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/bin/sh", "/usr/bin/env", "/bin/ls"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				f.Close()
				return p
			}
		}
		f.Close()
	}
	t.Skip("no dynamically linked binary on this machine")
	return ""
}

// The Dockerfile builds what hack/image builds: the same user,
// entrypoint, files and static build.
func TestDockerfileMatchesTheImage(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	final := df[strings.LastIndex(df, "\nFROM "):]
	for _, want := range []string{
		"\nFROM scratch\n",
		"\nUSER " + user + "\n",
		"\nENTRYPOINT [\"" + binaryPath + "\"]\n",
		"COPY --from=build /out/manager " + binaryPath + "\n",
		"COPY hack/image/rootfs/etc/ /etc/\n",
		"COPY --from=build /out/tmp /tmp\n",
		"ENV HOME=/tmp\n",
	} {
		if !strings.Contains(final, want) {
			t.Errorf("the Dockerfile's final stage lacks %q", strings.TrimSpace(want))
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "mkdir -m 1777 /out/tmp", "internal/version.Version=${VERSION}"} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile's build lacks %q", want)
		}
	}
}

type file struct {
	hdr  *tar.Header
	body []byte
}

// layerFiles reads the image's one layer.
func layerFiles(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1 on an empty base", len(layers))
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s", mt)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = file{hdr: h, body: body}
	}
}

// untar unpacks an archive into a new directory.
func untar(t *testing.T, archive string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(target, dir+string(filepath.Separator)) {
			t.Fatalf("archive entry %q escapes", h.Name)
		}
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func keys(m map[string]file) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
