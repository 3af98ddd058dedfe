package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed layout. The Dockerfile at the repository root builds
// the same one; TestDockerfileMatches holds them together.
const (
	// binaryPath is the manager in the image, owned by root and not
	// writable by the user it runs as.
	binaryPath = "/manager"
	// user is the unprivileged UID:GID the manager runs as, the "nonroot"
	// user of distroless images, so Pod Security's restricted profile
	// (runAsNonRoot) is met without a runAsUser in the pod.
	user = "65532:65532"
	// source is the repository the image is built from.
	source = "https://github.com/cxloop/cxloop"
)

// passwd and group name the user, for libraries that look it up; its
// home is /tmp, the one writable path under a read-only root filesystem
// (the Deployment mounts an emptyDir there). The Dockerfile copies the
// same files.
var (
	//go:embed rootfs/etc/passwd
	passwd []byte
	//go:embed rootfs/etc/group
	group []byte
)

// Options describe one build of the manager image.
type Options struct {
	// Binaries maps a platform ("linux/amd64") to the static manager
	// binary built for it.
	Binaries map[string]string
	// Version is the release, the same string linked into the binaries.
	Version string
	// Revision is the VCS commit the binaries were built from, if known.
	Revision string
	// Created stamps the config and every file in the layer, so that one
	// commit builds one digest.
	Created time.Time
}

// labels are the OCI annotations the image's config carries.
func (o Options) labels() map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "cxloop-manager",
		"org.opencontainers.image.description": "The cxloop operator: measures customer-experience Metrics, opens ImprovementTasks for owning Teams and verifies fixes on fresh data.",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.source":      source,
		"org.opencontainers.image.url":         source,
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

// Build appends one layer holding the manager onto an empty base for each
// platform, and returns the index of them.
func Build(o Options) (v1.ImageIndex, error) {
	if o.Version == "" {
		return nil, fmt.Errorf("no version given")
	}
	if len(o.Binaries) == 0 {
		return nil, fmt.Errorf("no binary given")
	}
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		platform, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", p, err)
		}
		img, err := buildImage(o, *platform, o.Binaries[p])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform:    platform,
			Annotations: map[string]string{"org.opencontainers.image.ref.name": o.Version},
		}})
	}
	return idx, nil
}

func buildImage(o Options, platform v1.Platform, binary string) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("read the manager: %w", err)
	}
	if err := checkStatic(bin, platform); err != nil {
		return nil, fmt.Errorf("%s: %w", binary, err)
	}
	rootfs, err := rootfsTar(bin, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("make the layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: platform.Architecture,
		OS:           platform.OS,
		Variant:      platform.Variant,
		// Runtimes refuse a config whose root filesystem is not "layers".
		RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint: []string{binaryPath},
			User:       user,
			WorkingDir: "/",
			Labels:     o.labels(),
			Env:        []string{"HOME=/tmp"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("set the config: %w", err)
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   v1.Time{Time: o.Created},
		CreatedBy: "hack/image: COPY manager " + binaryPath,
		Comment:   "static manager binary " + o.Version,
	}})
	if err != nil {
		return nil, fmt.Errorf("append the layer: %w", err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: o.Created})
	if err != nil {
		return nil, fmt.Errorf("stamp the image: %w", err)
	}
	return img, nil
}

// elfMachines is the ELF machine of each architecture the image is built
// for, so a binary built for the wrong one is refused, not pushed.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
}

// checkStatic refuses a binary that needs anything an empty base lacks:
// a dynamic loader (a PT_INTERP header, what CGO_ENABLED=1 produces),
// shared libraries, or another platform.
func checkStatic(bin []byte, platform v1.Platform) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF binary: %w", err)
	}
	defer f.Close()
	if platform.OS != "linux" {
		return fmt.Errorf("the image runs on linux, not %s", platform.OS)
	}
	if want, ok := elfMachines[platform.Architecture]; !ok || f.Machine != want {
		return fmt.Errorf("built for %s, not %s", f.Machine, platform.Architecture)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("dynamically linked (it names an interpreter): build it with CGO_ENABLED=0")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("links shared libraries %v: build it with CGO_ENABLED=0", libs)
	}
	return nil
}

// rootfsTar is the layer's content: the manager, the nonroot user, and
// /tmp as the mount point of the Deployment's emptyDir.
func rootfsTar(bin []byte, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entries := []struct {
		name string
		mode int64
		body []byte
		dir  bool
	}{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, body: group},
		{name: "etc/passwd", mode: 0o644, body: passwd},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: filepath.Base(binaryPath), mode: 0o755, body: bin},
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: created, Uid: 0, Gid: 0, Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("write %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteArchive writes idx as an OCI image layout (oci-layout, index.json
// listing one manifest per platform, blobs/) packed in one tar file:
// `crane push --index` takes it unpacked, `skopeo copy oci-archive:` and
// `docker load` take the tar.
func WriteArchive(path string, idx v1.ImageIndex, created time.Time) error {
	dir, err := os.MkdirTemp("", "cxloop-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := layout.Write(dir, idx); err != nil {
		return fmt.Errorf("write the OCI layout: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".partial"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := tarDir(out, dir, created); err != nil {
		out.Close()
		os.Remove(tmp)
		return fmt.Errorf("pack the OCI layout: %w", err)
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// tarDir packs dir's files in a fixed order with fixed times and owners,
// so one image packs to one archive.
func tarDir(w io.Writer, dir string, created time.Time) error {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, p := range names {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: created, Mode: 0o644, Typeflag: tar.TypeReg, Size: fi.Size(), Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Name += "/"
			h.Mode, h.Typeflag, h.Size = 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.IsDir() {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}
