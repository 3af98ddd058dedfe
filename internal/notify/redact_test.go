package notify

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every channel's outcome is free of its credentials even when the tool
// echoes them: Slack its URL, GitHub the token, Jira the Authorization
// header it was sent.
func TestOutcomesNeverShowCredentialsTheToolEchoes(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf(`{"message":"bad credentials %s for http://%s%s"}`, r.Header.Get("Authorization"), r.Host, r.URL.RequestURI()),
			http.StatusUnauthorized)
	}))
	defer echo.Close()
	const token, user = "ghp_T0kenValue123", "owner@example.com"
	hook := strings.ToUpper(echo.URL[:4]) + echo.URL[4:] + "/services/T0A1B2C3/B4D5E6F7/Zx9Yw8Vu7Ts6Rq5P"
	for _, c := range []struct {
		name    string
		d       Deliverer
		secrets []string
	}{
		{"slack", Slack{WebhookURL: hook, Client: loopbackClient()}, []string{"T0A1B2C3", "B4D5E6F7", "Zx9Yw8Vu7Ts6Rq5P"}},
		{"github", GitHub{APIURL: echo.URL, Repository: "acme/cx", Token: token, Client: loopbackClient()}, []string{token}},
		{"jira", Jira{URL: echo.URL, Project: "CX", User: user, Token: token, Client: loopbackClient()},
			[]string{token, user, base64.StdEncoding.EncodeToString([]byte(user + ":" + token))}},
	} {
		out := c.d.Deliver(context.Background(), event(Opened, 1))
		if out.Succeeded || !strings.Contains(out.Message, "401") {
			t.Fatalf("%s: outcome %+v, want a 401", c.name, out)
		}
		for _, s := range c.secrets {
			if strings.Contains(out.Message, s) {
				t.Errorf("%s: the outcome shows %q: %q", c.name, s, out.Message)
			}
		}
	}
}
