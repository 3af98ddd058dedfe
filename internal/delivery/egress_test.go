package delivery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/source"
)

// loopbackAllowed is the allowance tests name for their servers on
// 127.0.0.1, an address channels may not reach otherwise.
var loopbackAllowed = source.NetworkPolicy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

// egressChannels delivers with the given policy and host allowances, and
// a Secret tokens holding a GitHub token and Jira credentials.
func egressChannels(network source.NetworkPolicy, hosts ...string) *Channels {
	return &Channels{Clock: clock.NewManual(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), Network: network, AllowedHosts: hosts,
		Secrets: func(_ context.Context, ns, name string) (map[string][]byte, string, error) {
			if ns != "cx" || name != "tokens" {
				return nil, "", fmt.Errorf("secret %s/%s not found", ns, name)
			}
			return map[string][]byte{"github": []byte("ghp-s3cret-token"), "user": []byte("bot@example.com"), "jira": []byte("jira-s3cret-token")}, "1", nil
		}}
}

func teamWith(ch cxv1.DeliveryChannel) *cxv1.Team {
	ch.Name = "out"
	return &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "support", Namespace: "cx"}, Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{ch}}}
}

func webhookTo(u string) cxv1.DeliveryChannel {
	return cxv1.DeliveryChannel{Type: cxv1.ChannelWebhook, Webhook: &cxv1.WebhookChannel{URL: u}}
}

func githubAt(api string) cxv1.DeliveryChannel {
	return cxv1.DeliveryChannel{Type: cxv1.ChannelGitHub, GitHub: &cxv1.GitHubChannel{Repository: "acme/cx", APIURL: api,
		Token: cxv1.SecretKeyReference{Name: "tokens", Key: "github"}}}
}

func jiraAt(site string) cxv1.DeliveryChannel {
	return cxv1.DeliveryChannel{Type: cxv1.ChannelJira, Jira: &cxv1.JiraChannel{URL: site, Project: "CX",
		User: cxv1.SecretKeyReference{Name: "tokens", Key: "user"}, Token: cxv1.SecretKeyReference{Name: "tokens", Key: "jira"}}}
}

// counting is a server that counts the requests it receives and answers
// each as a webhook receiver, GitHub and Jira would for an empty search.
func counting(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/rest/api/3/search"):
			fmt.Fprint(w, `{"issues":[]}`)
		case r.Method == http.MethodGet:
			fmt.Fprint(w, `[]`)
		default:
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"number":1,"html_url":"https://github.example/acme/cx/issues/1","key":"CX-1"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func deliver(c *Channels, team *cxv1.Team) cxv1.DeliveryRecord {
	rec, _ := c.Retry(context.Background(), team, "support/out", slackTask(), loop.EventOpened, 1)
	return rec
}

// A webhook to a loopback server or to the cloud metadata address is
// refused before any request unless the manager allows its network; with
// the allowance it is delivered.
func TestWebhookToAnInternalAddressIsRefusedUnlessAllowed(t *testing.T) {
	srv, hits := counting(t)
	for _, u := range []string{srv.URL + "/hook", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"} {
		rec := deliver(egressChannels(source.NetworkPolicy{}), teamWith(webhookTo(u)))
		if rec.Succeeded || !strings.Contains(rec.Message, "address not allowed") || !strings.Contains(rec.Message, "--allow-egress-network") {
			t.Errorf("%s: record %+v, want a refusal naming --allow-egress-network", u, rec)
		}
		if strings.Contains(rec.Message, "security-credentials") {
			t.Errorf("%s: the record shows the URL's path: %q", u, rec.Message)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the refused server received %d requests", hits.Load())
	}
	if rec := deliver(egressChannels(loopbackAllowed), teamWith(webhookTo(srv.URL+"/hook"))); !rec.Succeeded || hits.Load() != 1 {
		t.Fatalf("with 127.0.0.1 allowed: record %+v, %d requests", rec, hits.Load())
	}
}

// GitHub and Jira channels send a token to their host, so they call only
// https://api.github.com and the hosts the manager allows with
// --allow-egress-host; any other host fails the delivery, naming the host
// and the flag, and nothing is sent.
func TestGitHubAndJiraHostsNeedAnAllowance(t *testing.T) {
	srv, hits := counting(t)
	local := strings.TrimPrefix(srv.URL, "http://")
	for _, c := range []struct {
		name    string
		channel cxv1.DeliveryChannel
		host    string
	}{
		{"github elsewhere", githubAt("https://attacker.example/api/v3"), "attacker.example"},
		{"github on an allowed network", githubAt(srv.URL), local},
		{"github over http", githubAt("http://api.github.com"), "api.github.com"},
		{"jira", jiraAt(srv.URL), local},
		{"jira cloud", jiraAt("https://example.atlassian.net"), "example.atlassian.net"},
	} {
		rec := deliver(egressChannels(loopbackAllowed), teamWith(c.channel))
		if rec.Succeeded || !strings.Contains(rec.Message, "host "+c.host+" is not allowed") ||
			!strings.Contains(rec.Message, "--allow-egress-host") || strings.Contains(rec.Message, "s3cret") || strings.Contains(rec.Message, "/api/v3") {
			t.Errorf("%s: record %+v, want a refusal naming host %s and --allow-egress-host", c.name, rec, c.host)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("refused channels sent %d requests", hits.Load())
	}
	allowed := egressChannels(loopbackAllowed, "127.0.0.1")
	for _, ch := range []cxv1.DeliveryChannel{githubAt(srv.URL), jiraAt(srv.URL)} {
		if rec := deliver(allowed, teamWith(ch)); !rec.Succeeded {
			t.Errorf("%s with its host allowed: record %+v", ch.Type, rec)
		}
	}
	if hits.Load() == 0 {
		t.Fatal("allowed channels sent nothing")
	}
	for _, api := range []string{"https://api.github.com", "https://API.github.com:443/"} {
		if err := egressChannels(source.NetworkPolicy{}).checkAPIHost("GitHub API", api, githubAPIHost); err != nil {
			t.Errorf("%q refused: %v", api, err)
		}
	}
}

// An allowance names a host, which allows it on any port and scheme, or a
// host:port, which allows that port only; api.github.com needs none over
// https on its own port.
func TestAPIHostAllowances(t *testing.T) {
	for _, c := range []struct {
		url, builtin string
		allowed      []string
		ok           bool
	}{
		{"https://api.github.com", githubAPIHost, nil, true},
		{"https://API.github.com:443/", githubAPIHost, nil, true},
		{"https://api.github.com:8443", githubAPIHost, nil, false},
		{"http://api.github.com", githubAPIHost, nil, false},
		{"https://ghe.example.com/api/v3", githubAPIHost, nil, false},
		{"https://ghe.example.com/api/v3", githubAPIHost, []string{"GHE.example.com"}, true},
		{"http://ghe.example.com:8080/api/v3", githubAPIHost, []string{"ghe.example.com"}, true},
		{"https://ghe.example.com:8443", githubAPIHost, []string{"ghe.example.com:443"}, false},
		{"https://ghe.example.com:8443", githubAPIHost, []string{"ghe.example.com:8443"}, true},
		{"https://ghe.example.com.attacker.example", githubAPIHost, []string{"ghe.example.com"}, false},
		{"https://example.atlassian.net", "", nil, false},
		{"https://example.atlassian.net", "", []string{"example.atlassian.net"}, true},
		{"ftp://example.atlassian.net", "", []string{"example.atlassian.net"}, false},
		{"example.atlassian.net", "", []string{"example.atlassian.net"}, false},
	} {
		err := egressChannels(source.NetworkPolicy{}, c.allowed...).checkAPIHost("API", c.url, c.builtin)
		if (err == nil) != c.ok {
			t.Errorf("%s allowing %v: error %v, want allowed %v", c.url, c.allowed, err, c.ok)
		}
	}
}
