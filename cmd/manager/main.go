// Command manager runs the cxloop operator: it measures Metrics from their
// DataSources, opens ImprovementTasks for the owning Teams and verifies
// their fixes on fresh data.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	// The image is FROM scratch, with no CA bundle on disk: these roots
	// let HTTPS to GitHub, Jira, Slack and warehouses verify there. A
	// bundle mounted at SSL_CERT_FILE or SSL_CERT_DIR still takes
	// precedence, for private CAs.
	_ "golang.org/x/crypto/x509roots/fallback"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/controllers"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/promexport"
	"github.com/cxloop/cxloop/internal/source"
	"github.com/cxloop/cxloop/internal/version"
)

func main() {
	var (
		metricsAddr    string
		metricsSecure  bool
		probeAddr      string
		leaderElection bool
		leaderElectNS  string
		maxSegments    int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	flag.BoolVar(&metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS to scrapers the API server authenticates and authorizes for GET /metrics (the cxloop-metrics-reader ClusterRole); false serves plain HTTP to anyone who reaches the port.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the liveness and readiness probes bind to.")
	flag.BoolVar(&leaderElection, "leader-elect", true, "Elect a leader so that only one replica reconciles at a time.")
	flag.StringVar(&leaderElectNS, "leader-election-namespace", "", "Namespace of the leader election lease; the manager's own namespace when empty.")
	var dataRoots stringList
	flag.Var(&dataRoots, "data-root", "Directory SQLite and CSV DataSources may read files under (repeatable); none by default.")
	var watchNamespaces stringList
	flag.Var(&watchNamespaces, "watch-namespace", "Namespace whose DataSources, Metrics, Teams and tasks this manager reconciles (repeatable); every namespace when unset. A namespaced install grants the manager Roles in these namespaces only.")
	var egressNetworks, egressHosts stringList
	flag.Var(&egressNetworks, "allow-egress-network", "CIDR of a loopback, link-local or private network that outbound connections may reach: DataSources (Prometheus, HTTP JSON, PostgreSQL) and delivery channels (webhook, Slack, GitHub, Jira), such as the cluster's Service range for an in-cluster Prometheus (repeatable); only public addresses by default.")
	flag.Var(&egressNetworks, "allow-source-network", "Former name of --allow-egress-network, which it adds to.")
	flag.Var(&egressHosts, "allow-egress-host", "Host (or host:port) that GitHub and Jira channels may call, such as a GitHub Enterprise Server or a Jira site like example.atlassian.net (repeatable); only https://api.github.com by default.")
	opts := zap.Options{}
	var shard string
	flag.StringVar(&shard, "shard", "", "Label selector on Namespaces (such as cxloop.dev/shard=a, or !cxloop.dev/shard for namespaces no shard names) choosing the namespaces this manager reconciles, so several managers split a cluster; a namespace's objects always share one manager. Every namespace when empty. Each shard elects its own leader.")
	flag.IntVar(&maxSegments, "max-segments", source.MaxSegments, "Most segments one Metric may be measured by (each holds its own statistics and evidence); past it the Metric is Stalled TooManySegments and nothing is measured, no segment dropped silently.")
	var clockFile string
	flag.StringVar(&clockFile, "clock-file", "", "File holding the time (RFC 3339) the manager runs on instead of the wall clock, re-read within a second of every change; for benchmarks and backtests that step time by hand. The wall clock when empty.")
	var pprofAddr string
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0", "Address the Go profiler (net/http/pprof) binds to, such as 127.0.0.1:6060, to take heap and CPU profiles of the manager; 0 disables it. Anyone who reaches it can read the manager's memory: bind it to loopback and reach it with kubectl port-forward.")
	printVersion := flag.Bool("version", false, "Print the version and exit.")
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	if *printVersion {
		fmt.Println("manager", version.Get())
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	if described, err := applyMemoryLimit(os.Getenv); err != nil {
		log.Error(err, "bad memory limit")
		os.Exit(1)
	} else if described != "" {
		log.Info("memory limits", "limits", described)
	}
	if maxSegments < 1 {
		log.Error(fmt.Errorf("%d is not a positive number", maxSegments), "bad --max-segments")
		os.Exit(1)
	}
	networks, err := source.ParseNetworks(egressNetworks)
	if err != nil {
		log.Error(err, "bad --allow-egress-network")
		os.Exit(1)
	}
	for _, h := range egressHosts {
		if h == "" || strings.ContainsAny(h, "/@ ") {
			log.Error(nil, "bad --allow-egress-host: give a host or host:port, without a scheme or path", "value", h)
			os.Exit(1)
		}
	}

	shardSelector, err := controllers.ParseShard(shard)
	if err != nil {
		log.Error(err, "bad --shard")
		os.Exit(1)
	}
	if shardSelector != nil && len(watchNamespaces) > 0 {
		log.Error(nil, "--shard and --watch-namespace exclude each other: a shard reads Namespace labels cluster-wide, a namespaced install cannot")
		os.Exit(1)
	}

	var now clock.Clock = clock.Real{}
	if clockFile != "" {
		if now, err = clock.NewFile(clockFile, time.Second); err != nil {
			log.Error(err, "bad --clock-file")
			os.Exit(1)
		}
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cxv1.AddToScheme(scheme))

	ctx := ctrl.SetupSignalHandler()
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsServer(metricsAddr, metricsSecure),
		Cache:                   cacheOptions(watchNamespaces),
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          leaderElection,
		LeaderElectionID:        leaderElectionID(shard),
		LeaderElectionNamespace: leaderElectNS,
	})
	if err != nil {
		log.Error(err, "unable to create manager")
		os.Exit(1)
	}
	if err := controllers.SetupAll(ctx, mgr, controllers.Options{Clock: now, DataRoots: dataRoots, EgressNetworks: networks, EgressHosts: egressHosts,
		MaxSegments: maxSegments, Shard: shardSelector, Exporter: promexport.NewExporter(metrics.Registry),
		ScorecardExporter: promexport.NewScorecards(metrics.Registry),
		SourceQueries:     promexport.NewSourceQueries(metrics.Registry), Deliveries: promexport.NewDeliveries(metrics.Registry)}); err != nil {
		log.Error(err, "unable to set up controllers")
		os.Exit(1)
	}
	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("readyz", healthz.Ping))

	log.Info("starting manager", "version", version.Get().String())
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
