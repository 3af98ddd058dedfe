package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cxloop/cxloop/internal/version"
)

// kubectl cx version prints the build's version on one line, and as a
// document with -o json; it takes no arguments.
func TestVersion(t *testing.T) {
	saved := version.Version
	version.Version = "v1.2.3"
	t.Cleanup(func() { version.Version = saved })

	code, out, errOut := runCLI(t, "version")
	if code != ExitOK || !strings.HasPrefix(out, "kubectl-cx v1.2.3") || strings.Count(out, "\n") != 1 {
		t.Fatalf("version: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, out, errOut = runCLI(t, "version", "-o", "json")
	var doc struct {
		Client struct {
			Version   string `json:"version"`
			GoVersion string `json:"goVersion"`
		} `json:"client"`
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &doc) != nil || doc.Client.Version != "v1.2.3" || !strings.HasPrefix(doc.Client.GoVersion, "go") {
		t.Fatalf("version -o json: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	if code, _, _ := runCLI(t, "version", "extra"); code != ExitUsage {
		t.Fatalf("version with an argument exits %d, want %d", code, ExitUsage)
	}
}
