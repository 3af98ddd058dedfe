package source

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// NetworkPolicy says which addresses cxloop's outbound connections may
// reach: HTTP sources (Prometheus, HTTP JSON), PostgreSQL sources and the
// delivery channels (webhook, Slack, GitHub, Jira) alike. By default they
// refuse loopback, link-local (cloud metadata services among them),
// private and other non-public addresses, so neither a DataSource nor a
// Team's channel can be turned against the operator's own node or the
// cluster's internal services. Allowed lists the networks a platform team
// opens on purpose, such as the Service range that holds its Prometheus.
type NetworkPolicy struct {
	Allowed []netip.Prefix
}

// ParseNetworks parses CIDR prefixes such as "10.96.0.0/12".
func ParseNetworks(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("network %q: %w", c, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Permits reports whether a connection to addr is allowed.
func (p NetworkPolicy) Permits(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, n := range p.Allowed {
		if n.Contains(addr) {
			return true
		}
	}
	return addr.IsGlobalUnicast() && !addr.IsPrivate() && !sharedAddressSpace.Contains(addr)
}

// sharedAddressSpace is carrier-grade NAT space (RFC 6598), which some
// clusters use for Pods and Services.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// control checks the address a dialer is about to connect to, after name
// resolution and before any packet is sent, so a name that resolves to a
// refused address (DNS rebinding included) is refused as well.
func (p NetworkPolicy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrUnreachable, address, err)
	}
	if !p.Permits(ap.Addr()) {
		return fmt.Errorf("%w: %s is a loopback, link-local or private address, which cxloop reaches only in a network the manager allows with --allow-egress-network", ErrAddressNotAllowed, ap.Addr())
	}
	return nil
}

// Dialer returns a dialer whose connections obey the policy: every
// outbound connection, whatever its protocol, is dialled through one.
func (p NetworkPolicy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.control}
}

// Transport returns an HTTP transport whose connections obey the policy.
// It uses no proxy: a proxy would resolve and reach hosts beyond the
// policy's sight.
func (p NetworkPolicy) Transport(timeout time.Duration, maxConns int) *http.Transport {
	if maxConns <= 0 {
		maxConns = 4
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           p.Dialer(timeout).DialContext,
		ForceAttemptHTTP2:     true,
		MaxConnsPerHost:       maxConns,
		MaxIdleConnsPerHost:   maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
}

func (p NetworkPolicy) transport(timeout time.Duration, maxConns int) *http.Transport {
	return p.Transport(timeout, maxConns)
}
