package delivery

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cxloop/cxloop/internal/notify"
)

// githubAPIHost is github.com's API, which GitHub channels call unless
// they name another apiURL; it needs no allowance.
const githubAPIHost = "api.github.com"

// client is the HTTP client every channel sends with: its transport dials
// through the network policy, so no channel reaches a loopback, link-local
// or private address the manager has not allowed, whatever its URL's name
// resolves to.
func (c *Channels) client() *http.Client {
	c.clientOnce.Do(func() { c.httpClient = notify.NewClient(c.Network.Transport(notify.CallTimeout, 8)) })
	return c.httpClient
}

// checkAPIHost refuses a GitHub or Jira URL whose host the manager does not
// allow: those channels send a token to the host, so a Team cannot point
// one at a host of its choosing. builtin is the host allowed without a
// flag (https only), if any. The error names the scheme and host only.
func (c *Channels) checkAPIHost(kind, raw, builtin string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("the %s URL is not an absolute http(s) URL; nothing was sent", kind)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return fmt.Errorf("the %s URL's scheme %s is neither https nor http; nothing was sent", kind, scheme)
	}
	if builtin != "" && scheme == "https" && strings.EqualFold(u.Hostname(), builtin) && (u.Port() == "" || u.Port() == "443") {
		return nil
	}
	for _, h := range c.AllowedHosts {
		if strings.EqualFold(u.Host, h) || strings.EqualFold(u.Hostname(), h) {
			return nil
		}
	}
	allowedByDefault := "no " + kind + " host is allowed by default"
	if builtin != "" {
		allowedByDefault = "only https://" + builtin + " is allowed by default"
	}
	return fmt.Errorf("%s host %s is not allowed: %s, others when the manager runs with --allow-egress-host %s; nothing was sent",
		kind, u.Host, allowedByDefault, u.Hostname())
}
