// Command kubectl-cx is the cxloop kubectl plugin. Put it on PATH and call
// it as "kubectl cx", or run it directly; see "kubectl cx --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/cxloop/cxloop/internal/cli"
	// The demo runs the manager, so it is linked here rather than from
	// package cli, whose other commands must not import the controllers.
	_ "github.com/cxloop/cxloop/internal/cli/democmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}
