// Package redact removes credentials from text bound for an error, a
// condition, an event, a delivery record or a log. Every source driver
// and delivery channel uses it, so there is one rule for what a secret
// looks like in output. It imports nothing of the project.
package redact

import "strings"

// Placeholder replaces each secret.
const Placeholder = "[redacted]"

// Text returns s with every non-empty secret replaced by Placeholder.
func Text(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, Placeholder)
		}
	}
	return s
}
