package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// manifestDoc is one YAML document of a manifest file.
type manifestDoc struct {
	// Index counts documents in the file from 1, empty ones included.
	Index int
	// Object is the decoded document; nil when Err is set.
	Object *unstructured.Unstructured
	// Err is why the document could not be decoded.
	Err error
}

// isManifestFile reports whether a file in a walked directory is YAML.
func isManifestFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// isKustomization reports whether a file is a kustomize entry point, which
// is not a Kubernetes object and is skipped.
func isKustomization(path string) bool {
	switch filepath.Base(path) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// expandPaths turns the -f arguments into a sorted list of files: a
// directory is walked recursively for .yaml and .yml files; a file named
// explicitly is taken whatever its extension; "-" is stdin.
func expandPaths(args []string) ([]string, error) {
	var out []string
	for _, arg := range args {
		if arg == "-" {
			out = append(out, arg)
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, arg)
			continue
		}
		var found []string
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isManifestFile(path) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", arg, err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// readDocs splits a multi-document YAML (or JSON) stream and decodes each
// non-empty document.
func readDocs(r io.Reader) ([]manifestDoc, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs []manifestDoc
	for i := 1; ; i++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(raw))) == 0 {
			continue
		}
		obj, err := decodeDoc(raw)
		if err != nil {
			docs = append(docs, manifestDoc{Index: i, Err: err})
			continue
		}
		if len(obj) == 0 {
			continue
		}
		docs = append(docs, manifestDoc{Index: i, Object: &unstructured.Unstructured{Object: obj}})
	}
}

// decodeDoc decodes one document as the API server reads JSON: whole
// numbers become int64, which CEL rules over integer fields need.
func decodeDoc(raw []byte) (map[string]any, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// stripComments drops whole-line comments, so a document holding only
// comments counts as empty.
func stripComments(raw []byte) []byte {
	var b bytes.Buffer
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// objectLabel is how findings name an object: Kind/name.
func objectLabel(u *unstructured.Unstructured) string {
	name := u.GetName()
	if name == "" && u.GetGenerateName() != "" {
		name = u.GetGenerateName() + "*"
	}
	if name == "" {
		name = "<unnamed>"
	}
	kind := u.GetKind()
	if kind == "" {
		kind = "<no kind>"
	}
	return kind + "/" + name
}
