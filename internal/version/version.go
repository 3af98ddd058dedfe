// Package version is the one version the manager and the kubectl plugin
// print. A release build sets it with
//
//	go build -ldflags "-X github.com/cxloop/cxloop/internal/version.Version=v0.3.0 \
//	    -X github.com/cxloop/cxloop/internal/version.Commit=$(git rev-parse HEAD)"
//
// (the Makefile does, from VERSION); a plain `go build` reports "dev", and
// `go install github.com/cxloop/cxloop/cmd/kubectl-cx@v0.3.0` reports the
// module version Go recorded in the binary.
package version

import (
	"runtime/debug"
	"strings"
)

// Version is the release this binary was built from, set at link time.
var Version = "dev"

// Commit is the VCS revision, set at link time by builds that do not let
// Go stamp it (-buildvcs=false, a source tree without .git).
var Commit = ""

// Info describes the build of the running binary.
type Info struct {
	// Version is the release, "dev" for an unreleased build.
	Version string `json:"version"`
	// Commit is the VCS revision the build recorded, when it did.
	Commit string `json:"commit,omitempty"`
	// Modified reports uncommitted changes in the built work tree.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"goVersion"`
}

// Get returns the version of the running binary.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return from(Version, bi)
}

// from merges the link-time version with what Go recorded in the binary:
// the link-time value wins, then the module version of a `go install
// module@version`, else "dev".
func from(linked string, bi *debug.BuildInfo) Info {
	info := Info{Version: linked, Commit: Commit}
	if info.Version == "" {
		info.Version = "dev"
	}
	if bi == nil {
		return info
	}
	info.GoVersion = bi.GoVersion
	if info.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if info.Commit == "" {
				info.Commit = s.Value
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one-line form both binaries print, such as
// "v0.3.0 (commit 1a2b3c4d5e6f, go1.26.8)".
func (i Info) String() string {
	s := i.Version
	var details []string
	if i.Commit != "" {
		c := i.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if i.Modified {
			c += "-dirty"
		}
		details = append(details, "commit "+c)
	}
	if i.GoVersion != "" {
		details = append(details, i.GoVersion)
	}
	if len(details) > 0 {
		s += " (" + strings.Join(details, ", ") + ")"
	}
	return s
}
