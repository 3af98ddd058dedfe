package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// manifest is the part of krew's Plugin schema the release fills.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
			Files  []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
		} `json:"platforms"`
	} `json:"spec"`
}

// platforms are the ones the Makefile releases the plugin for.
func platforms(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^KREW_PLATFORMS\s*\?=\s*(.+)$`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("the Makefile sets no KREW_PLATFORMS")
	}
	return strings.Fields(string(m[1]))
}

// The rendered manifest names, for linux and darwin on amd64 and arm64,
// an archive at the release's URI whose sha256 is the one written, and
// that archive holds the platform's binary as the kubectl-cx krew links.
func TestKrewManifest(t *testing.T) {
	released := platforms(t)
	for _, want := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"} {
		if !slices.Contains(released, want) {
			t.Errorf("KREW_PLATFORMS lacks %s", want)
		}
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "dist")
	args := []string{"--version", "v0.3.0", "--out", out, "--template", filepath.Join("..", "..", "..", "plugins", "cx.yaml")}
	content := map[string][]byte{}
	for _, p := range released {
		bin := filepath.Join(dir, strings.ReplaceAll(p, "/", "_"))
		content[p] = []byte("kubectl-cx for " + p)
		if err := os.WriteFile(bin, content[p], 0o755); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--binary", p+"="+bin)
	}
	if err := run(args); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(filepath.Join(out, "cx.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("cx.yaml: %v\n%s", err, raw)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "cx" ||
		m.Spec.Version != "v0.3.0" || m.Spec.Homepage == "" || m.Spec.ShortDescription == "" {
		t.Fatalf("manifest header: %+v", m)
	}
	if len(m.Spec.Platforms) != len(released) {
		t.Fatalf("%d platforms, want %d", len(m.Spec.Platforms), len(released))
	}
	for _, p := range m.Spec.Platforms {
		key := p.Selector.MatchLabels["os"] + "/" + p.Selector.MatchLabels["arch"]
		archive := "kubectl-cx_" + strings.ReplaceAll(key, "/", "_") + ".tar.gz"
		if p.URI != "https://github.com/cxloop/cxloop/releases/download/v0.3.0/"+archive {
			t.Errorf("%s: uri %s", key, p.URI)
		}
		data, err := os.ReadFile(filepath.Join(out, archive))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		sum := sha256.Sum256(data)
		if p.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: sha256 %s is not the archive's", key, p.SHA256)
		}
		if p.Bin != "kubectl-cx" || len(p.Files) != 1 || p.Files[0].From != "kubectl-cx" {
			t.Errorf("%s: bin %q files %+v", key, p.Bin, p.Files)
		}
		name, mode, body := only(t, data)
		if name != "kubectl-cx" || mode&0o111 == 0 || !bytes.Equal(body, content[key]) {
			t.Errorf("%s: the archive holds %s (mode %o) = %q, want the platform's kubectl-cx", key, name, mode, body)
		}
	}

	// krew installs only v-prefixed semantic versions.
	for _, v := range []string{"dev", "0.3.0", "f93b048-dirty", "v0.3"} {
		if err := run([]string{"--version", v, "--out", out, "--binary", "linux/amd64=" + filepath.Join(dir, "linux_amd64")}); err == nil {
			t.Errorf("version %q was accepted", v)
		}
	}
}

// only reads the one file of a tar.gz archive.
func only(t *testing.T, data []byte) (string, int64, []byte) {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Fatalf("more than one file in the archive: %v", err)
	}
	return h.Name, h.Mode, body
}
