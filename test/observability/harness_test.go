package observability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// repoRoot is the module's root, from this package's directory.
var repoRoot = filepath.Join("..", "..")

// controlPlane starts a kube-apiserver and etcd with cxloop's CRDs and
// returns its admin config, a client and the admin kubeconfig's bytes.
func controlPlane(t *testing.T) (*rest.Config, client.Client, []byte) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make envtest-assets` and point KUBEBUILDER_ASSETS at the directory it prints")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join(repoRoot, "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start the control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cxv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, c, env.KubeConfig
}

// binary finds a binary through its environment variable or PATH, and
// fails the test with how to get it otherwise.
func binary(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s=%s: %v", env, p, err)
		}
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found: install Debian's prometheus package (apt-get install prometheus) or set %s to the binary", name, env)
	return ""
}

// freeAddress is a loopback address nothing listens on.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process runs a command until the test ends, keeping its output for the
// failure message.
type process struct {
	name   string
	mu     sync.Mutex
	out    bytes.Buffer
	exited chan error
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// log is the process's output so far, its last 4 KiB.
func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.out.Bytes()
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

func start(t *testing.T, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, exited: make(chan error, 1)}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, p.log())
		}
	})
	return p
}

// buildManager builds the manager binary, as the image ships it, and
// returns how to wait for it (it runs beside the control plane's start).
func buildManager(dir string) func(*testing.T) string {
	out := filepath.Join(dir, "manager")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "build", "-o", out, "./cmd/manager")
	cmd.Dir = repoRoot
	b, err := cmd.CombinedOutput()
	return func(t *testing.T) string {
		t.Helper()
		if err != nil {
			t.Fatalf("go build ./cmd/manager: %v\n%s", err, b)
		}
		return out
	}
}

// prometheus is a running Prometheus and its HTTP API.
type prometheus struct {
	url  string
	proc *process
}

// startPrometheus runs Prometheus with config (prometheus.yml's text) and
// the files beside it, and waits until it is ready.
func startPrometheus(t *testing.T, dir, config string, files map[string][]byte) *prometheus {
	t.Helper()
	bin := binary(t, "CXLOOP_TEST_PROMETHEUS", "prometheus")
	files["prometheus.yml"] = []byte(config)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddress(t)
	p := &prometheus{url: "http://" + addr}
	p.proc = start(t, "prometheus", nil, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	until(t, 30*time.Second, "prometheus ready", p.proc, func() (bool, string) {
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return p
}

// series is one element of an instant vector.
type series struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// api calls one of Prometheus's API endpoints and decodes its data.
func (p *prometheus) api(path string, params url.Values, data any) error {
	resp, err := http.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string          `json:"status"`
		Error     string          `json:"error"`
		ErrorType string          `json:"errorType"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s: %s", path, body.ErrorType, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

// query evaluates an instant PromQL query now.
func (p *prometheus) query(expr string) ([]series, error) {
	var data struct {
		ResultType string   `json:"resultType"`
		Result     []series `json:"result"`
	}
	if err := p.api("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: a %s, not an instant vector", expr, data.ResultType)
	}
	return data.Result, nil
}

// until polls cond until it holds, failing the test with its last word
// (and the process's output, when one is given) after timeout.
func until(t *testing.T, timeout time.Duration, what string, p *process, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if p != nil {
			select {
			case err := <-p.exited:
				p.exited <- err
				t.Fatalf("%s exited (%v) while waiting for %s:\n%s", p.name, err, what, p.log())
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// readYAML decodes a YAML file of the repository.
func readYAML(t *testing.T, into any, path ...string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(append([]string{repoRoot}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, into); err != nil {
		t.Fatalf("%s: %v", filepath.Join(path...), err)
	}
}

// apply creates objects, failing the test on the first refusal.
func apply(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}
