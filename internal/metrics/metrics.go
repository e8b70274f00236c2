package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace starts every metric name.
const Namespace = "argo_oom_remediator"

// Outcomes of a rescue, the values of the outcome label of RescuesTotal.
const (
	// OutcomeRemediated: a run completed (or created) the task result.
	OutcomeRemediated = "remediated"
	// OutcomeStuck: a run ended with the workflow still held by a false
	// task result it could do nothing about (a RemediationStuck Event).
	OutcomeStuck = "stuck"
	// OutcomeRerunByArgo: Argo reran the step whose pod ended (v3.7+, v4),
	// with the same resources; nothing was written.
	OutcomeRerunByArgo = "rerun-by-argo"
)

// TerminalBuckets are the buckets of the OOM-to-terminal histogram, in
// seconds: a rescue takes the controller's 10 s requeue after the write,
// the grace of a vanished pod (30 s) and up to a sweep interval (5 min).
var TerminalBuckets = []float64{5, 10, 15, 20, 30, 45, 60, 120, 300, 600, 1200, 3600}

// Metrics are the collectors of one process, on their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	// StuckNodes: nodes held by a false task result entry after the last
	// sweep (found stuck and not rescued by it), by namespace.
	StuckNodes *prometheus.GaugeVec
	// StuckOldest: age of the oldest of them, from its node's end.
	StuckOldest *prometheus.GaugeVec
	// Rescues counts rescues by namespace, outcome and trigger.
	Rescues *prometheus.CounterVec
	// OOMToTerminal observes the time from a rescued node's end to its
	// workflow's end.
	OOMToTerminal prometheus.Histogram
	// NotificationFailures counts CloudEvents not delivered, by kind (node,
	// sweep).
	NotificationFailures *prometheus.CounterVec
	// Sweeps counts sweeps by result (ok, failed: the scan failed).
	Sweeps *prometheus.CounterVec
	// LastSweep is the end time of the last sweep whose scan succeeded.
	LastSweep prometheus.Gauge
	// SweepDuration observes each sweep's length.
	SweepDuration prometheus.Histogram
	// Resubmits counts the opt-in resubmit's decisions and ends, by
	// namespace and outcome (ResubmitOutcomes).
	Resubmits *prometheus.CounterVec
}

// ResubmitOutcomes are the values of the outcome label of Resubmits:
// resubmitted (a new workflow with more memory), stopped (opted in and
// failed by a rescued OOM, but not resubmitted: a bound, an unsafe
// template), and how a resubmitted workflow ended: succeeded or failed.
var ResubmitOutcomes = []string{"resubmitted", "stopped", "succeeded", "failed"}

// New returns the metrics registered, with the Go runtime's and the
// process's own (memory, CPU, file descriptors).
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		StuckNodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "stuck_nodes",
			Help: "Workflow nodes held in Running by a task result that never completed, left after the last sweep.",
		}, []string{"namespace"}),
		StuckOldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "stuck_oldest_seconds",
			Help: "Age of the oldest stuck node (time since its node ended), after the last sweep.",
		}, []string{"namespace"}),
		Rescues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "rescues_total",
			Help: "Rescues by outcome (remediated, stuck, rerun-by-argo: Argo reran the step with the same resources) and trigger (OOMKilled, deleted, wait-failed, manual, sweep), counted from the remediator's Kubernetes Events.",
		}, []string{"namespace", "outcome", "trigger"}),
		OOMToTerminal: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "oom_to_terminal_seconds",
			Help:    "Time from a rescued node's end (the OOM) to its workflow's end.",
			Buckets: TerminalBuckets,
		}),
		NotificationFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "notification_failures_total",
			Help: "CloudEvents that could not be delivered, by kind: node (a run's report, from its NotificationFailed Event) or sweep (this process's sweep summary).",
		}, []string{"kind"}),
		Sweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "sweeps_total",
			Help: "Sweeps by result: ok, or failed when the scan itself failed.",
		}, []string{"result"}),
		LastSweep: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "last_sweep_success_timestamp_seconds",
			Help: "Unix time of the end of the last sweep whose scan succeeded.",
		}),
		SweepDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "sweep_duration_seconds",
			Help:    "Length of each sweep, remediations included.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		Resubmits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "resubmits_total",
			Help: "The opt-in resubmit (REMEDIATOR_RESUBMIT) by outcome: resubmitted with more memory, stopped (not resubmitted: a bound or an unsafe template), and how a resubmitted workflow ended, succeeded or failed.",
		}, []string{"namespace", "outcome"}),
	}
	m.Registry.MustRegister(m.StuckNodes, m.StuckOldest, m.Rescues, m.OOMToTerminal, m.NotificationFailures,
		m.Sweeps, m.LastSweep, m.SweepDuration, m.Resubmits,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Known label values start at zero, so that rate() and increase() see
	// the first rescue and the first failure.
	for _, r := range []string{"ok", "failed"} {
		m.Sweeps.WithLabelValues(r)
	}
	for _, k := range []string{"node", "sweep"} {
		m.NotificationFailures.WithLabelValues(k)
	}
	return m
}

// Stuck is one node found stuck by a sweep.
type Stuck struct {
	Namespace string
	// Since is when the node ended (zero: unknown).
	Since time.Time
}

// SetStuck replaces the stuck gauges with what a sweep left stuck.
func (m *Metrics) SetStuck(stuck []Stuck, now time.Time) {
	m.StuckNodes.Reset()
	m.StuckOldest.Reset()
	count := map[string]int{}
	oldest := map[string]time.Duration{}
	for _, s := range stuck {
		count[s.Namespace]++
		age := time.Duration(0)
		if !s.Since.IsZero() {
			age = max(now.Sub(s.Since), 0)
		}
		oldest[s.Namespace] = max(oldest[s.Namespace], age)
	}
	for ns, n := range count {
		m.StuckNodes.WithLabelValues(ns).Set(float64(n))
		m.StuckOldest.WithLabelValues(ns).Set(oldest[ns].Seconds())
	}
}

// Handler serves the metrics in the Prometheus text format (or
// OpenMetrics, when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, EnableOpenMetrics: true})
}
