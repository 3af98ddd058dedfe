// Command image builds the cxloop manager's container image without a
// container daemon: for each platform it appends one layer holding the
// static manager binary onto an empty base, and writes the images as an
// OCI image layout packed in one tar file. `make image` runs it; see the
// README's "Install on your cluster".
//
//	go run ./hack/image --version v0.3.0 --out bin/cxloop-manager.oci.tar \
//	    --binary linux/amd64=bin/linux_amd64/manager --binary linux/arm64=bin/linux_arm64/manager
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	o := Options{Binaries: map[string]string{}}
	var out, created string
	fs.StringVar(&out, "out", "bin/cxloop-manager.oci.tar", "The OCI archive to write.")
	fs.StringVar(&o.Version, "version", "", "The release, as linked into the binaries; the org.opencontainers.image.version label and the layout's ref name.")
	fs.StringVar(&o.Revision, "revision", "", "The VCS commit the binaries were built from.")
	fs.StringVar(&created, "created", "", "RFC 3339 time stamped on the image and its files, such as the commit's time; the Unix epoch when empty, so builds of one commit are identical.")
	fs.Func("binary", "PLATFORM=PATH of a static manager binary, such as linux/amd64=bin/linux_amd64/manager (repeatable).", func(v string) error {
		platform, path, ok := strings.Cut(v, "=")
		if !ok || platform == "" || path == "" {
			return fmt.Errorf("want PLATFORM=PATH, got %q", v)
		}
		o.Binaries[platform] = path
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Created = time.Unix(0, 0).UTC()
	if created != "" {
		t, err := time.Parse(time.RFC3339, created)
		if err != nil {
			return fmt.Errorf("--created: %w", err)
		}
		o.Created = t.UTC()
	}
	idx, err := Build(o)
	if err != nil {
		return err
	}
	if err := WriteArchive(out, idx, o.Created); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (index %s, version %s)\n", out, digest, o.Version)
	return nil
}
