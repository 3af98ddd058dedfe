package controllers

import (
	"context"
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/credentials"
	"github.com/cxloop/cxloop/internal/delivery"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/promexport"
	"github.com/cxloop/cxloop/internal/source"
)

// Options configure the reconcilers.
type Options struct {
	// Clock drives evaluation, windows and verification; the wall clock
	// when nil.
	Clock clock.Clock
	// Deliverer sends task events to teams' tools; their channels unless set.
	Deliverer Deliverer
	// SourceChecker checks DataSources' connectivity; the drivers' own
	// checks unless set.
	SourceChecker SourceChecker
	// Exporter publishes results as Prometheus gauges; none when nil.
	Exporter *promexport.Exporter
	// ScorecardExporter publishes Scorecards as Prometheus gauges; none
	// when nil.
	ScorecardExporter *promexport.Scorecards
	// SourceQueries counts and times DataSources' round trips; none when
	// nil.
	SourceQueries *promexport.SourceQueries
	// Deliveries counts the attempts to deliver task events, by outcome;
	// none when nil.
	Deliveries *promexport.Deliveries
	// DataRoots are the directories file-based sources (SQLite, CSV) may
	// read under; a path outside them is refused.
	DataRoots []string
	// EgressNetworks are the networks every outbound connection may reach
	// beyond public addresses: sources (Prometheus, HTTP JSON, PostgreSQL)
	// and delivery channels (webhook, Slack, GitHub, Jira) alike, such as
	// the cluster's Service range for an in-cluster Prometheus. Loopback,
	// link-local and private addresses are refused otherwise, checked on
	// the address each connection dials.
	EgressNetworks []netip.Prefix
	// EgressHosts are the hosts (host, or host:port) GitHub and Jira
	// channels may call besides https://api.github.com; a channel pointing
	// elsewhere fails its delivery and sends nothing.
	EgressHosts []string
	// SlackHosts are hosts (host, or host:port) a Slack channel may post
	// to besides hooks.slack.com: a local stand-in for Slack in tests and
	// the demo. No flag sets it: in production a Slack webhook URL can
	// point at Slack only.
	SlackHosts []string
	// MaxSegments bounds the segments a Metric is measured by: past it
	// the Metric is Stalled TooManySegments and nothing is measured (no
	// segment dropped silently). source.MaxSegments when 0.
	MaxSegments int
	// Shard selects, by a label selector on the Namespace, the namespaces
	// this manager reconciles (ParseShard); every namespace when nil.
	// Managers whose selectors are disjoint split a cluster, and a
	// namespace's objects always share one manager.
	Shard labels.Selector
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
}

// The manager's metrics endpoint authenticates scrapers and authorizes
// them through the API server.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// SetupAll registers every cxloop reconciler with the manager.
func SetupAll(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	opts.defaults()
	secrets := (&credentials.Store{Metadata: mgr.GetClient(), Direct: mgr.GetAPIReader()}).Reader()
	egress := source.NetworkPolicy{Allowed: opts.EgressNetworks}
	sources := &metricspec.Sources{Secrets: secrets, Roots: opts.DataRoots, ConfigMaps: credentials.DirectConfigMaps(mgr.GetAPIReader()),
		Network: egress}
	if opts.SourceQueries != nil {
		sources.Observe = opts.SourceQueries.Observe
	}
	if opts.Deliverer == nil {
		opts.Deliverer = &delivery.Channels{Secrets: secrets, Clock: opts.Clock, Network: egress, AllowedHosts: opts.EgressHosts,
			AllowedSlackHosts: opts.SlackHosts}
	}
	if opts.Deliveries != nil {
		opts.Deliverer = opts.Deliveries.Counting(opts.Deliverer)
	}
	if opts.SourceChecker == nil {
		opts.SourceChecker = sources
	}
	if err := registerIndexes(ctx, mgr); err != nil {
		return fmt.Errorf("register field indexes: %w", err)
	}
	c, s := mgr.GetClient(), mgr.GetScheme()
	shard := &Shard{Selector: opts.Shard, Reader: c}
	setups := []struct {
		name  string
		setup func(ctrl.Manager) error
	}{
		{"datasource", (&DataSourceReconciler{Client: c, Shard: shard, Scheme: s, Checker: opts.SourceChecker}).SetupWithManager},
		{"metric", (&MetricReconciler{Client: c, Shard: shard, Scheme: s, Clock: opts.Clock, Recorder: mgr.GetEventRecorder("cxloop-metric"),
			Exporter: opts.Exporter, Sources: sources, MaxSegments: opts.MaxSegments}).SetupWithManager},
		{"scorecard", (&ScorecardReconciler{Client: c, Shard: shard, Scheme: s, Clock: opts.Clock, Sources: sources,
			Exporter: opts.ScorecardExporter, Recorder: mgr.GetEventRecorder("cxloop-scorecard")}).SetupWithManager},
		{"team", (&TeamReconciler{Client: c, Shard: shard, Scheme: s, Secrets: secrets}).SetupWithManager},
		{"improvementtask", (&ImprovementTaskReconciler{Client: c, Shard: shard, Scheme: s, Clock: opts.Clock,
			Recorder: mgr.GetEventRecorder("cxloop-improvementtask"), Sources: sources, Deliverer: opts.Deliverer, APIReader: mgr.GetAPIReader()}).SetupWithManager},
	}
	for _, st := range setups {
		if err := st.setup(mgr); err != nil {
			return fmt.Errorf("set up %s controller: %w", st.name, err)
		}
	}
	return nil
}
