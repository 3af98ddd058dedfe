package metricspec

import (
	"fmt"
	"testing"

	"github.com/cxloop/cxloop/internal/source"
)

// Each typed source error gives its own condition reason, however deeply
// it is wrapped.
func TestReasonOfTypedSourceErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{source.ErrUnauthorized, "AuthFailed"},
		{source.ErrUnreachable, "Unreachable"},
		{source.ErrPathNotAllowed, "PathNotAllowed"},
		{source.ErrAddressNotAllowed, "AddressNotAllowed"},
		{source.ErrTimeout, "Timeout"},
		{source.ErrTooLarge, "TooLarge"},
		{source.ErrBadQuery, "BadQuery"},
		{fmt.Errorf("plain"), "CheckFailed"},
	} {
		wrapped := fmt.Errorf("datasource cx/warehouse: %w", fmt.Errorf("%w: a limit", tc.err))
		if got := reasonOf(wrapped); got != tc.want {
			t.Errorf("%v: reason %q, want %q", tc.err, got, tc.want)
		}
	}
}
