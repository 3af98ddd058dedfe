package cli

import (
	"errors"
	"fmt"
)

// Exit codes of kubectl-cx, documented in the root command's help.
const (
	// ExitOK means the command did what was asked.
	ExitOK = 0
	// ExitError means the command failed or found invalid input (a
	// rejected manifest, an API server error).
	ExitError = 1
	// ExitUsage means the command line itself was wrong: an unknown flag
	// or command, a missing argument or a bad flag value.
	ExitUsage = 2
)

// UsageError is a mistake on the command line; it exits with ExitUsage.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// usageErrorf builds a UsageError.
func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ReportedError is a failure whose details the command already printed
// (validate's findings); only the exit code is left to set.
type ReportedError struct{ Summary string }

func (e *ReportedError) Error() string { return e.Summary }

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	var usage *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &usage):
		return ExitUsage
	default:
		return ExitError
	}
}
