package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// manager is the real manager binary (cmd/manager) in a child process, on
// the cluster's clock file, scraped through its metrics endpoint.
type manager struct {
	cmd     *exec.Cmd
	name    string
	metrics string // the scrape URL
	exited  chan error
	// peakHeap is the largest Go heap in use of any sample, bytes.
	peakHeap float64
	// atPeak is the sample with the largest resident set.
	atPeak memory
}

// memory is where a manager's resident memory is, from one sample: the
// resident set, what backs it, and the Go runtime's own accounts.
type memory struct {
	rss float64 // VmRSS
	// anon, file and shmem split rss by what backs the pages (RssAnon,
	// RssFile: the binary's own pages among them, RssShmem).
	anon, file, shmem float64
	// arena is the anonymous memory of the Go heap's arena, otherAnon the
	// rest (anonymousMappings), both from /proc at the sample's moment.
	arena, otherAnon float64
	// heapInuse is the Go heap in spans holding objects (live or not yet
	// swept), heapFree the heap kept from the OS but holding nothing,
	// stacks the goroutines' stacks, other the runtime's own structures,
	// from the scrape just before: the heap moves by tens of MiB between
	// the two reads, so these do not add up to arena.
	heapInuse, heapFree, stacks, other float64
	// sqlite is what SQLite itself holds outside the Go heap
	// (cxloop_sqlite_memory_bytes).
	sqlite float64
}

func (m memory) String() string {
	mib := func(b float64) float64 { return b / (1 << 20) }
	return fmt.Sprintf("%.0f MiB resident: anonymous %.0f (the Go heap's arena %.0f, other mappings %.0f), files %.0f, shared %.0f; the runtime's gauges a moment before: Go heap in use %.0f, heap free and kept %.0f, stacks %.0f, runtime %.0f, SQLite's own %.0f",
		mib(m.rss), mib(m.anon), mib(m.arena), mib(m.otherAnon), mib(m.file), mib(m.shmem), mib(m.heapInuse), mib(m.heapFree), mib(m.stacks), mib(m.other), mib(m.sqlite))
}

// buildManager compiles cmd/manager into dir, from the module this bench
// runs in.
func buildManager(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/manager")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build cmd/manager (run the bench from the repository's root): %w", err)
	}
	return bin, nil
}

// startManager starts a manager for the namespaces shard selects (every
// namespace when empty), without leader election, with plain-HTTP metrics
// and the Go profiler on free loopback ports (the profiler's address on
// stderr, for heap profiles during a phase).
func (cp *cluster) startManager(ctx context.Context, name, shard string) (*manager, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pprofPort, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--kubeconfig", cp.kubeconfig, "--clock-file", cp.clockFile, "--data-root", cp.dataDir,
		"--leader-elect=false", "--health-probe-bind-address=0", "--metrics-secure=false",
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", port), "--zap-log-level=error",
		"--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", pprofPort)}
	fmt.Fprintf(os.Stderr, "manager %s: pprof at http://127.0.0.1:%d/debug/pprof/\n", name, pprofPort)
	if shard != "" {
		args = append(args, "--shard", shard)
	}
	cmd := exec.CommandContext(ctx, cp.managerBin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if cp.memLimit != "" {
		// A Go soft limit, as the deployed manager sets from its limit.
		cmd.Env = append(os.Environ(), "GOMEMLIMIT="+cp.memLimit)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &manager{cmd: cmd, name: name, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), exited: make(chan error, 1)}
	go func() { m.exited <- cmd.Wait() }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := m.scrape(); err == nil {
			return m, nil
		} else if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("manager %s: metrics endpoint: %w", name, err)
		}
		select {
		case err := <-m.exited:
			return nil, fmt.Errorf("manager %s exited: %v", name, err)
		default:
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stop ends the manager with SIGTERM, as a Pod's eviction would.
func (m *manager) stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

// peakRSS is the manager's high-water resident set (VmHWM), in bytes.
func (m *manager) peakRSS() (float64, error) { return m.status("VmHWM") }

// status reads a size field of the manager's /proc status, in bytes.
func (m *manager) status(field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

func (m *manager) scrape() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(m.metrics)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", m.metrics, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// sample is what a manager has done so far, from its own metrics.
type sample struct {
	queries    float64            // source round trips
	namespaces map[string]float64 // source round trips by namespace
	// byKind are the round trips by namespace, then kind and outcome
	// ("history ok").
	byKind    map[string]map[string]float64
	writes    float64            // API requests that write: POST, PUT, PATCH, DELETE
	evaluated map[string]float64 // namespace/metric -> last evaluation, clock seconds
	heap      float64            // Go heap in use, bytes
	reconcile reconcileTimes
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func (m *manager) sample() (sample, error) {
	families, err := m.scrape()
	if err != nil {
		return sample{}, err
	}
	s := sample{namespaces: map[string]float64{}, byKind: map[string]map[string]float64{}, evaluated: map[string]float64{}}
	for _, mm := range families["cxloop_source_queries_total"].GetMetric() {
		v := mm.GetCounter().GetValue()
		ns := label(mm, "namespace")
		s.queries += v
		s.namespaces[ns] += v
		if s.byKind[ns] == nil {
			s.byKind[ns] = map[string]float64{}
		}
		s.byKind[ns][label(mm, "kind")+" "+label(mm, "outcome")] += v
	}
	for _, mm := range families["rest_client_requests_total"].GetMetric() {
		switch label(mm, "method") {
		case "POST", "PUT", "PATCH", "DELETE":
			s.writes += mm.GetCounter().GetValue()
		}
	}
	for _, mm := range families["cxloop_metric_last_evaluation_timestamp_seconds"].GetMetric() {
		s.evaluated[label(mm, "namespace")+"/"+label(mm, "metric")] = mm.GetGauge().GetValue()
	}
	gauge := func(name string) float64 {
		for _, mm := range families[name].GetMetric() {
			return mm.GetGauge().GetValue()
		}
		return 0
	}
	s.heap = gauge("go_memstats_heap_inuse_bytes")
	m.peakHeap = max(m.peakHeap, s.heap)
	if rss, err := m.status("VmRSS"); err == nil && rss > m.atPeak.rss {
		stacks := gauge("go_memstats_stack_sys_bytes")
		heapSys := gauge("go_memstats_heap_sys_bytes")
		m.atPeak = memory{rss: rss, heapInuse: s.heap, heapFree: gauge("go_memstats_heap_idle_bytes") - gauge("go_memstats_heap_released_bytes"),
			stacks: stacks, other: gauge("go_memstats_sys_bytes") - heapSys - stacks, sqlite: gauge("cxloop_sqlite_memory_bytes")}
		m.atPeak.anon, _ = m.status("RssAnon")
		m.atPeak.file, _ = m.status("RssFile")
		m.atPeak.shmem, _ = m.status("RssShmem")
		m.atPeak.arena, m.atPeak.otherAnon, _ = anonymousMappings(m.cmd.Process.Pid)
	}
	s.reconcile = reconcileTimesOf(families)
	return s, nil
}
