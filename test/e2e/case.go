package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/kubeevent"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/packer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// Case is one scenario on one controller version, in a namespace of its
// own with a controller of its own.
type Case struct {
	C        *cluster.Cluster
	Version  string
	Scenario Scenario
	NS       string
	LogDir   string
	Ctl      *argo.Controller
	Player   *Player
	// WF is the workflow as created.
	WF *wfv1.Workflow

	stopPlaying context.CancelFunc
	logs        []io.Closer
}

// StartCase creates the namespace, starts the controller (with ctlEnv added
// to its environment, e.g. argo.LoweredTimeoutsEnv) and the played kubelet,
// and submits the scenario's workflow. Close it when done.
func StartCase(ctx context.Context, c *cluster.Cluster, version string, s Scenario, logDir string, hooks Hooks, ctlEnv ...string) (_ *Case, err error) {
	k := &Case{C: c, Version: version, Scenario: s, LogDir: logDir}
	defer func() {
		if err != nil {
			k.Close()
		}
	}()
	if k.NS, err = c.CreateNamespace(ctx, version+"-"+s.Name); err != nil {
		return k, err
	}
	ctlEnv = slices.Clone(ctlEnv)
	if s.Compressed {
		ctlEnv = append(ctlEnv, fmt.Sprintf("MAX_WORKFLOW_SIZE=%d", CompressedMaxSize))
	}
	if k.Ctl, err = argo.Start(ctx, c, version, k.NS, logDir, ctlEnv...); err != nil {
		return k, err
	}
	playCtx, cancel := context.WithCancel(context.Background())
	k.stopPlaying = cancel
	if k.Player, err = Play(playCtx, c.Kube, c.Argo, k.NS, s, hooks); err != nil {
		return k, err
	}
	k.WF, err = c.Argo.ArgoprojV1alpha1().Workflows(k.NS).Create(ctx, s.NewWorkflow(k.NS), metav1.CreateOptions{})
	return k, err
}

// Close stops the played kubelet and the controller.
func (k *Case) Close() {
	if k.stopPlaying != nil {
		k.stopPlaying()
		k.Player.Wait()
	}
	if k.Ctl != nil {
		k.Ctl.Stop()
	}
	for _, l := range k.logs {
		_ = l.Close()
	}
}

// Workflow reads the workflow.
func (k *Case) Workflow(ctx context.Context) (*wfv1.Workflow, error) {
	return k.C.Argo.ArgoprojV1alpha1().Workflows(k.NS).Get(ctx, k.WF.Name, metav1.GetOptions{})
}

// AwaitWorkflow watches the workflow until cond holds, for at most timeout,
// and returns it (its nodes unpacked: see inflated) with the time the
// change was seen.
func (k *Case) AwaitWorkflow(ctx context.Context, timeout time.Duration, what string, cond func(*wfv1.Workflow) bool) (*wfv1.Workflow, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wfs := k.C.Argo.ArgoprojV1alpha1().Workflows(k.NS)
	sel := fields.OneTermEqualSelector("metadata.name", k.WF.Name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return wfs.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return wfs.Watch(ctx, o)
		},
	}
	var last *wfv1.Workflow
	_, err := watchtools.UntilWithSync(ctx, lw, &wfv1.Workflow{}, nil, func(ev watch.Event) (bool, error) {
		wf, ok := ev.Object.(*wfv1.Workflow)
		if !ok || ev.Type == watch.Deleted {
			return false, nil
		}
		wf, err := inflated(wf)
		if err != nil {
			return false, err
		}
		last = wf
		return cond(wf), nil
	})
	seen := time.Now()
	if err != nil {
		phase := "unknown"
		if last != nil {
			phase = describe(last)
		}
		return last, seen, fmt.Errorf("waiting %s for %s (last seen: %s): %w", timeout, what, phase, err)
	}
	return last, seen, nil
}

// StaysRunning checks that the workflow stays Running for the window.
func (k *Case) StaysRunning(ctx context.Context, window time.Duration) error {
	wf, at, err := k.AwaitWorkflow(ctx, window, "the workflow to leave Running", func(wf *wfv1.Workflow) bool {
		return wf.Status.Phase != wfv1.WorkflowRunning
	})
	switch {
	case err == nil:
		return fmt.Errorf("the workflow left Running at %s: %s", at.Format(time.TimeOnly), describe(wf))
	case (wait.Interrupted(err) || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() == nil:
		return nil // the window passed with the workflow Running
	}
	return err
}

// OutputsWindow bounds the wait for a node's outputs once its wait
// container reported them: two of the controller's 10 s requeues.
const OutputsWindow = 20 * time.Second

// OutputsKept tells whether the node of tl shows the output its executor
// reported, waiting up to OutputsWindow for it (call it once the wait
// container reported them). False means the workflow did not take them in
// within the window: a completed workflow is not reconciled again, so
// outputs reported after its end are lost from its nodes.
func (k *Case) OutputsKept(ctx context.Context, tl Timeline) (bool, error) {
	want := outputsOf(&tl).Parameters[0].Value.String()
	_, _, err := k.AwaitWorkflow(ctx, OutputsWindow, "the node's outputs", func(wf *wfv1.Workflow) bool {
		n, ok := wf.Status.Nodes[tl.NodeID]
		return ok && n.Outputs != nil && len(n.Outputs.Parameters) > 0 && n.Outputs.Parameters[0].Value.String() == want
	})
	switch {
	case err == nil:
		return true, nil
	case (wait.Interrupted(err) || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() == nil:
		return false, nil
	}
	return false, err
}

// Remediator builds the real remediator, as the admin, logging to the
// case's log directory.
func (k *Case) Remediator(opts remediate.Options) (*remediate.Remediator, error) {
	f, err := os.Create(filepath.Join(k.LogDir, "remediator-"+k.NS+".log"))
	if err != nil {
		return nil, err
	}
	k.logs = append(k.logs, f)
	log := slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Identity == "" {
		opts.Identity = "remediator-e2e"
	}
	rec := kubeevent.Recorder{Kube: k.C.Kube, Instance: opts.Identity, Log: log, Now: time.Now}
	return remediate.New(k.C.Kube, k.C.Argo, rec, nil, log, opts), nil
}

// Target is the remediator's target for the pod of tl, as the trigger of
// an OOMKilled pod would name it.
func (k *Case) Target(tl Timeline, trigger string) remediate.Target {
	return remediate.Target{Namespace: k.NS, Workflow: k.WF.Name, NodeID: tl.NodeID, PodName: tl.Pod,
		PodUID: string(tl.PodUID), Trigger: trigger}
}

// TriggeredBy is the target of the Job the shipped Sensor creates for the
// pod event that tl was snapshot at: with the wait container's evidence
// when that event showed it terminated (REMEDIATOR_WAIT_EXIT_CODE and
// REMEDIATOR_WAIT_FINISHED_AT).
func (k *Case) TriggeredBy(tl Timeline, trigger string) remediate.Target {
	t := k.Target(tl, trigger)
	if !tl.WaitEnded.IsZero() {
		t.Wait = remediate.WaitEvidence{Terminated: true, ExitCode: tl.WaitExitCode, FinishedAt: tl.WaitEnded}
	}
	return t
}

// TaskResults lists the namespace's task results by name.
func (k *Case) TaskResults(ctx context.Context) (map[string]wfv1.WorkflowTaskResult, error) {
	list, err := k.C.Argo.ArgoprojV1alpha1().WorkflowTaskResults(k.NS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]wfv1.WorkflowTaskResult{}
	for _, tr := range list.Items {
		out[tr.Name] = tr
	}
	return out, nil
}

// inflated returns wf with its nodes in status.nodes wherever the
// controller keeps them, unpacked by Argo's own packer, so that every check
// reads one place. wf itself is left as the API server returned it.
func inflated(wf *wfv1.Workflow) (*wfv1.Workflow, error) {
	if wf.Status.CompressedNodes == "" {
		return wf, nil
	}
	wf = wf.DeepCopy()
	if err := packer.DecompressWorkflow(wf); err != nil {
		return nil, fmt.Errorf("workflow %s/%s: status.compressedNodes: %w", wf.Namespace, wf.Name, err)
	}
	return wf, nil
}

// describe summarises a workflow: its phase and its pod nodes' phases.
func describe(wf *wfv1.Workflow) string {
	s := fmt.Sprintf("workflow %s", wf.Status.Phase)
	if wf.Status.CompressedNodes != "" {
		s += " (nodes compressed)"
		if full, err := inflated(wf); err == nil {
			wf = full
		}
	}
	for _, n := range wf.Status.Nodes {
		if n.Type == wfv1.NodeTypePod {
			s += fmt.Sprintf("; %s %s %q", n.DisplayName, n.Phase, n.Message)
		}
	}
	if len(wf.Status.TaskResultsCompletionStatus) > 0 {
		s += fmt.Sprintf("; taskResultsCompletionStatus %v", wf.Status.TaskResultsCompletionStatus)
	}
	return s
}

// Describe summarises the workflow's state now.
func (k *Case) Describe(ctx context.Context) string {
	wf, err := k.Workflow(ctx)
	if err != nil {
		return err.Error()
	}
	return describe(wf)
}
