package democmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/cxloop/cxloop/internal/cli"
)

// runCLI runs kubectl-cx, with the demo registered, as the binary does.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	code = cli.Run(context.Background(), args, streams)
	return code, out.String(), errOut.String()
}

func TestDefaultAssetsDir(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	cases := []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"KUBEBUILDER_ASSETS": "/opt/k8s", "XDG_CACHE_HOME": "/c", "HOME": "/h"}, "/opt/k8s"},
		{map[string]string{"XDG_CACHE_HOME": "/c", "HOME": "/h"}, "/c/cxloop/k8s/" + demoK8sVersion},
		{map[string]string{"HOME": "/h"}, "/h/.cache/cxloop/k8s/" + demoK8sVersion},
	}
	for _, tc := range cases {
		if got := defaultAssetsDir(env(tc.vars)); got != tc.want {
			t.Errorf("%v: got %s, want %s", tc.vars, got, tc.want)
		}
	}
}

func TestKeepDefaultsToFalseWithoutATerminal(t *testing.T) {
	if isTerminal(strings.NewReader("")) {
		t.Fatal("a reader is not a terminal")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatal("/dev/null is not a terminal")
	}
}

// The demo through the command: a story of three weeks on its own control
// plane opens, resolves, verifies and reopens tasks, reaches the summary,
// leaves a kubeconfig, and tells the very same story when played again
// (task names aside: they hash the Metric's UID, new in every run).
func TestDemoTellsTheSameStoryEveryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make envtest-assets` and point it at the directory it prints")
	}
	play := func() string {
		state := t.TempDir()
		code, out, errOut := runCLI(t, "demo", "--assets", os.Getenv("KUBEBUILDER_ASSETS"), "--state-dir", state,
			"--days", "20", "--day-every", "1ms")
		if code != cli.ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{"task opened", "owner: resolved attempt 1", "VERIFIED", "REOPENED",
			"==> metrics", "==> improvement tasks", "==> scorecard account-health", "accounts below objective", "PULLED DOWN BY",
			"==> what moves account-nps", "carries: first-contact-resolution",
			"kubeconfig: " + filepath.Join(state, "kubeconfig")} {
			if !strings.Contains(out, want) {
				t.Fatalf("output lacks %q:\n%s", want, out)
			}
		}
		if _, err := os.Stat(filepath.Join(state, "kubeconfig")); err != nil {
			t.Fatal(err)
		}
		out = strings.ReplaceAll(out, state, "STATE")
		out = generatedIn.ReplaceAllString(out, "in ELAPSED")
		out = receiverPort.ReplaceAllString(out, "127.0.0.1:PORT")
		return taskHash.ReplaceAllString(out, "-HASH")
	}
	first, second := play(), play()
	if first != second {
		a, b := strings.Split(first, "\n"), strings.Split(second, "\n")
		for i := 0; i < len(a) && i < len(b); i++ {
			if a[i] != b[i] {
				t.Fatalf("the second run's story differs at line %d:\n  first:  %s\n  second: %s", i+1, a[i], b[i])
			}
		}
		t.Fatalf("the second run's story has %d lines, the first %d", len(b), len(a))
	}
	if code, _, _ := runCLI(t, "demo", "--day-every", "0s"); code != cli.ExitUsage {
		t.Fatalf("--day-every 0s: exit %d, want %d", code, cli.ExitUsage)
	}
}

var (
	taskHash     = regexp.MustCompile(`-[0-9a-f]{10}\b`)
	generatedIn  = regexp.MustCompile(`in [0-9.]+m?s \(`)
	receiverPort = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
)

// The demo registers itself with the root command and follows its
// conventions: arguments are a usage error.
func TestDemoIsACommandOfTheRoot(t *testing.T) {
	code, out, errOut := runCLI(t, "--help")
	if code != cli.ExitOK || !strings.Contains(out, "demo") {
		t.Fatalf("--help: exit %d, demo not listed:\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "demo", "now"); code != cli.ExitUsage || !strings.Contains(errOut, "takes no arguments") {
		t.Fatalf("demo now: exit %d, want %d:\n%s", code, cli.ExitUsage, errOut)
	}
}
