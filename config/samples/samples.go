// Package samples embeds the commented sample manifests, so the demo can
// apply them without a checkout.
package samples

import "embed"

// Files holds every sample manifest.
//
//go:embed *.yaml
var Files embed.FS
