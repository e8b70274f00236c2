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

// Run remediates the node the configuration names, records what it did and
// reports it. The returned error maps to an exit code with ExitCode.
func Run(ctx context.Context, cfg config.Config, d Deps) error {
	if err := cfg.Validate(); err != nil {
		return &BadInputError{Err: err}
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.NotifyBackoff == 0 {
		d.NotifyBackoff = 500 * time.Millisecond
	}
	// A dry run writes nothing, Kubernetes Events included.
	var rec remediate.Recorder = kubeevent.Recorder{Kube: d.Kube, Instance: d.Identity, Log: d.Log, Now: d.Clock.Now}
	if cfg.DryRun.Value {
		rec = noRecorder{}
	}
	r := remediate.New(d.Kube, d.Argo, rec, d.Clock, d.Log, remediate.Options{
		Grace:         cfg.GracePeriod.Duration,
		Deadline:      cfg.Deadline.Duration,
		VerifyTimeout: cfg.VerifyTimeout.Duration,
		DryRun:        cfg.DryRun.Value,
		Nudge:         cfg.Nudge.Value,
		Identity:      d.Identity,
	})
	target := remediate.Target{
		Namespace: cfg.Namespace, Workflow: cfg.Workflow, NodeID: cfg.NodeID,
		PodName: cfg.PodName, PodUID: cfg.PodUID, Trigger: cfg.Reason,
	}
	res, runErr := r.Run(ctx, target)
	if runErr != nil && ctx.Err() != nil {
		// Interrupted (SIGTERM): stop now, write nothing more; the Job retries.
		return fmt.Errorf("interrupted while remediating %s/%s node %s: %w", cfg.Namespace, cfg.Workflow, cfg.NodeID, runErr)
	}
	logResult(d.Log, res, runErr)

	sender := notify.Sender{Client: d.Events, Retries: cfg.SinkRetries.Value, Backoff: d.NotifyBackoff, Log: d.Log}
	ev, err := notify.Build(res, runErr, notify.Meta{Cluster: cfg.ClusterName, UIBase: cfg.ArgoUIURL, DryRun: cfg.DryRun.Value}, d.Clock.Now())
	if err == nil {
		err = sender.Send(ctx, ev)
	}
	if err != nil {
		d.Log.Error("notification failed", "error", err)
		rec.Record(ctx, remediate.WorkflowRef{Namespace: cfg.Namespace, Name: cfg.Workflow, UID: res.WorkflowUID},
			true, "NotificationFailed", fmt.Sprintf("outcome %s for node %s; the CloudEvent was not delivered: %v", res.Outcome, cfg.NodeID, err))
		if runErr != nil {
			return errors.Join(runErr, err)
		}
		return &NotifyError{Err: err}
	}
	return runErr
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
