package version

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	devel := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/cxloop/cxloop", Version: "(devel)"}}
	installed := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/cxloop/cxloop", Version: "v0.4.1"}}
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		name   string
		linked string
		bi     *debug.BuildInfo
		want   string
	}{
		{"plain build", "dev", devel, "dev (go1.26.8)"},
		{"no build info", "dev", nil, "dev"},
		{"empty link-time value", "", nil, "dev"},
		{"release build", "v0.3.0", devel, "v0.3.0 (go1.26.8)"},
		{"link-time value wins over the module version", "v0.3.0", installed, "v0.3.0 (go1.26.8)"},
		{"go install module@version", "dev", installed, "v0.4.1 (go1.26.8)"},
		{"vcs stamp", "v0.3.0", vcs, "v0.3.0 (commit 0123456789ab-dirty, go1.26.8)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			Commit = ""
			if got := from(tc.linked, tc.bi).String(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A link-time commit stands for the VCS stamp a -buildvcs=false build
// lacks.
func TestLinkedCommit(t *testing.T) {
	Commit = "feedface00112233"
	t.Cleanup(func() { Commit = "" })
	if got := from("v0.3.0", &debug.BuildInfo{GoVersion: "go1.26.8"}).String(); got != "v0.3.0 (commit feedface0011, go1.26.8)" {
		t.Fatalf("got %q", got)
	}
}

// The -X flag the Makefile passes reaches Version: a binary linked with it
// reports that version.
func TestLinkerFlagSetsVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "printversion")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X github.com/cxloop/cxloop/internal/version.Version=v9.8.7", "./testdata/printversion")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "v9.8.7" {
		t.Fatalf("the linked binary reports %q, want v9.8.7", got)
	}
}
