// Command release renders config/default, with the release's image, into
// the one install.yaml a platform team applies:
//
//	kubectl apply --server-side -f install.yaml
//
// The image's tag is the version linked into this program (the Makefile
// passes the same -X flag it builds the manager and the image with), so a
// release's manifest, image and binaries name one version.
// `make release-manifests` runs it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/cxloop/cxloop/internal/version"
)

// imageName is the manager's image as config/manager names it.
const imageName = "ghcr.io/cxloop/cxloop-manager"

// clusterScoped are cluster-scoped kinds newer than the API schema
// kustomize judges scope by, so its namespace transformer gives them
// config/default's namespace. kubectl and the API server ignore it; the
// release's manifest leaves it out, as the API server would store them.
var clusterScoped = map[string]bool{
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy":        true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicy":          true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicyBinding":   true,
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	out := fs.String("out", "bin/install.yaml", "The manifest to write.")
	dir := fs.String("config", "config/default", "The kustomization to render.")
	image := fs.String("image", imageName, "The repository the manager's image is pushed to; tagged with the build's version.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tag := version.Get().Version
	manifest, err := Render(*dir, *image, tag)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, manifest, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%s:%s)\n", *out, *image, tag)
	return nil
}

// Render builds the kustomization in dir as `kubectl apply -k` would, with
// the manager's image set to image:tag and every object labelled with the
// version (selectors left alone, so an upgrade keeps the Deployment's).
func Render(dir, image, tag string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// An overlay in a scratch directory, so the release sets the image the
	// way a user's overlay would, with kustomize's own images transformer.
	tmp, err := os.MkdirTemp("", "cxloop-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	base, err := filepath.Rel(tmp, abs)
	if err != nil {
		return nil, err
	}
	k := types.Kustomization{
		TypeMeta:  types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources: []string{filepath.ToSlash(base)},
		Images:    []types.Image{{Name: imageName, NewName: image, NewTag: tag}},
		Labels: []types.Label{{Pairs: map[string]string{"app.kubernetes.io/version": tag},
			IncludeSelectors: false, IncludeTemplates: false}},
	}
	raw, err := yaml.Marshal(k)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), raw, 0o644); err != nil {
		return nil, err
	}
	// kubectl's order (Namespace, CRDs, RBAC, then workloads), so that
	// `kubectl apply -f` creates each object after what it lives in.
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), tmp)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	for _, r := range m.Resources() {
		if clusterScoped[r.GetGvk().Group+"/"+r.GetKind()] {
			if err := r.SetNamespace(""); err != nil {
				return nil, err
			}
		}
	}
	body, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# cxloop %s, rendered from config/default with the manager image %s:%s.\n", tag, image, tag)
	fmt.Fprintf(&buf, "# Install or upgrade: kubectl apply --server-side -f install.yaml\n")
	buf.Write(body)
	return buf.Bytes(), nil
}
