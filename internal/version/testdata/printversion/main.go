// Command printversion prints the version the build linked in.
package main

import (
	"fmt"

	"github.com/cxloop/cxloop/internal/version"
)

func main() { fmt.Print(version.Get().Version) }
