package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/config"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/kubeevent"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/podwatch"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Deps are the outside world of a run; tests pass fakes.
type Deps struct {
	Kube kubernetes.Interface
	Argo versioned.Interface
	// Events delivers CloudEvents; nil: events are logged only.
	Events cloudevents.Client
	Log    *slog.Logger
	// Clock may be nil for the real clock.
	Clock clock.WithTicker
	// Identity names this run in annotations and Events (the pod name).
	Identity string
	// NotifyBackoff is the first delivery retry's delay (default 500ms).
	NotifyBackoff time.Duration
}

// runner holds what every node's remediation shares.
type runner struct {
	cfg  config.Config
	deps Deps
	rem  *remediate.Remediator
	// patient is rem with a deadline that outlasts the grace (sweep).
	patient *remediate.Remediator
	rec     remediate.Recorder
	sender  notify.Sender
	// watching is set by `remediator watch`: each sweep updates its metrics.
	watching *watching
}

// Run does what the configuration asks: remediate one node, every stuck node
// of one workflow, (Mode sweep) every stuck node found by a scan, or (Mode
// watch) the sweep every WatchInterval, with metrics, until ctx ends, or
// (Mode pods) serve workflow pod events to Argo Events until ctx ends. The
// returned error maps to an exit code with ExitCode.
func Run(ctx context.Context, cfg config.Config, d Deps) error {
	if err := cfg.Validate(); err != nil {
		return &BadInputError{Err: err}
	}
	if cfg.Mode == config.ModePods {
		return podwatch.Serve(ctx, d.Kube, d.Log, podwatch.Options{Namespace: cfg.Namespace, Address: cfg.PodsAddress, MetricsAddress: cfg.MetricsAddress})
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.NotifyBackoff == 0 {
		d.NotifyBackoff = 500 * time.Millisecond
	}
	r := &runner{cfg: cfg, deps: d}
	// A dry run writes nothing, Kubernetes Events included.
	r.rec = kubeevent.Recorder{Kube: d.Kube, Instance: d.Identity, Log: d.Log, Now: d.Clock.Now}
	if cfg.DryRun.Value {
		r.rec = noRecorder{}
	}
	opts := remediate.Options{
		Grace:         cfg.GracePeriod.Duration,
		Deadline:      cfg.Deadline.Duration,
		VerifyTimeout: cfg.VerifyTimeout.Duration,
		DryRun:        cfg.DryRun.Value,
		Nudge:         cfg.Nudge.Value,
		Identity:      d.Identity,
	}
	scans := cfg.Mode == config.ModeSweep || cfg.Mode == config.ModeWatch
	if scans {
		// The sweep acts only on nodes that are safe at once; one that
		// needs waiting after all is left to the next sweep.
		opts.Deadline = min(opts.Deadline, sweepNodeDeadline)
	}
	r.rem = remediate.New(d.Kube, d.Argo, r.rec, d.Clock, d.Log, opts)
	r.patient = r.rem
	if scans {
		// A node the object does not hold whose pod is gone waits out the
		// grace within the sweep (sweep.Candidate.Patient).
		patient := opts
		patient.Deadline = cfg.GracePeriod.Duration + sweepNodeDeadline
		r.patient = remediate.New(d.Kube, d.Argo, r.rec, d.Clock, d.Log, patient)
	}
	r.sender = notify.Sender{Client: d.Events, Retries: cfg.SinkRetries.Value, Backoff: d.NotifyBackoff, Log: d.Log}

	switch {
	case cfg.Mode == config.ModeWatch:
		return r.watch(ctx)
	case cfg.Mode == config.ModeSweep:
		return r.sweep(ctx)
	case cfg.NodeID == "":
		return r.workflow(ctx)
	}
	return r.node(ctx, remediate.Target{
		Namespace: cfg.Namespace, Workflow: cfg.Workflow, NodeID: cfg.NodeID,
		PodName: cfg.PodName, PodUID: cfg.PodUID, Trigger: cfg.Reason,
		Wait: remediate.WaitEvidence{Terminated: cfg.WaitTerminated(), ExitCode: cfg.WaitExitCode.Value, FinishedAt: cfg.WaitFinishedAt.Time},
	})
}

// node remediates one node, records and reports what happened.
func (r *runner) node(ctx context.Context, t remediate.Target) error {
	_, err := r.nodeWith(ctx, r.rem, t, nil)
	return err
}

// nodeWith is node with a given remediator and what a scan already read of
// the node (seed, nil for none); it also returns the run's result.
func (r *runner) nodeWith(ctx context.Context, rem *remediate.Remediator, t remediate.Target, seed *remediate.Seed) (remediate.Result, error) {
	res, runErr := rem.RunSeeded(ctx, t, seed)
	if runErr != nil && ctx.Err() != nil {
		// Interrupted (SIGTERM): stop now, write nothing more; the Job retries.
		return res, fmt.Errorf("interrupted while remediating %s/%s node %s: %w", t.Namespace, t.Workflow, t.NodeID, runErr)
	}
	logResult(r.deps.Log, res, runErr)
	err := r.report(ctx, res, runErr)
	if err == nil && res.Stuck {
		return res, &StuckError{Err: fmt.Errorf("%s/%s node %s: %s, the workflow stays stuck", t.Namespace, t.Workflow, t.NodeID, res.Outcome)}
	}
	return res, err
}

// report sends the run's CloudEvent; a failed delivery is recorded on the
// Workflow and returned as a NotifyError unless the run itself failed.
func (r *runner) report(ctx context.Context, res remediate.Result, runErr error) error {
	t := res.Target
	ev, err := notify.Build(res, runErr, notify.Meta{Cluster: r.cfg.ClusterName, UIBase: r.cfg.ArgoUIURL, DryRun: r.cfg.DryRun.Value, HintMax: r.cfg.HintMaxMemory.Value}, r.deps.Clock.Now())
	if err == nil {
		err = r.sender.Send(ctx, ev)
	}
	if err == nil {
		return runErr
	}
	r.deps.Log.Error("notification failed", "namespace", t.Namespace, "workflow", t.Workflow, "node", t.NodeID,
		"outcome", res.Outcome, "error", err)
	r.rec.Record(ctx, remediate.WorkflowRef{Namespace: t.Namespace, Name: t.Workflow, UID: res.WorkflowUID, NodeID: t.NodeID, Trigger: t.Trigger},
		true, "NotificationFailed", fmt.Sprintf("outcome %s for node %s; the CloudEvent was not delivered: %v", res.Outcome, t.NodeID, err))
	if runErr != nil {
		return errors.Join(runErr, err)
	}
	return &NotifyError{Err: err}
}

type noRecorder struct{}

func (noRecorder) Record(context.Context, remediate.WorkflowRef, bool, string, string) {}

func logResult(log *slog.Logger, res remediate.Result, err error) {
	attrs := []any{
		"namespace", res.Target.Namespace, "workflow", res.Target.Workflow, "node", res.Target.NodeID,
		"outcome", res.Outcome, "action", res.Action, "decision", res.Reason, "previously", res.Previously,
		"waited", res.Waited.String(), "workflowPhase", res.WorkflowPhase,
	}
	if err != nil {
		log.Error("remediation failed", append(attrs, "error", err)...)
		return
	}
	log.Info("remediation finished", attrs...)
}
