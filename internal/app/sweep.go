package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/config"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/sweep"
	"golang.org/x/sync/errgroup"
)

// sweepNodeDeadline bounds the wait of one node in a sweep.
const sweepNodeDeadline = 15 * time.Second

// sweep scans for stuck nodes and remediates those safe to fix now, a few
// at a time, each exactly as a Job would.
func (r *runner) sweep(ctx context.Context) error {
	start := r.deps.Clock.Now()
	scan, err := r.scanner().Scan(ctx, start)
	if err != nil {
		r.watching.scanFailed(start, r.deps.Clock.Now())
		return fmt.Errorf("sweep: %w", err)
	}
	todo := scan.Actionable()
	for _, c := range scan.Candidates {
		r.deps.Log.Info("sweep: suspect node", "namespace", c.Target.Namespace, "workflow", c.Target.Workflow,
			"node", c.Target.NodeID, "decision", c.Decision.String(), "dryRun", r.cfg.DryRun.Value)
	}
	runs := r.each(ctx, todo, config.ReasonSweep, r.cfg.SweepConcurrency.Value)
	summary := notify.SweepSummary{
		Cluster: r.cfg.ClusterName, Namespace: r.cfg.Namespace, Workflows: scan.Workflows, Suspects: scan.Suspects,
		Failed: len(scan.Unreadable), Deferred: scan.Suspects - len(todo), DryRun: r.cfg.DryRun.Value,
	}
	var errs []error
	for _, run := range runs {
		switch {
		case run.err != nil:
			summary.Failed++
			errs = append(errs, run.err)
		case run.res.Wrote():
			summary.Remediated++
		default: // found complete or healthy meanwhile, or a dry run
			summary.Unchanged++
		}
	}
	for _, u := range scan.Unreadable {
		r.deps.Log.Warn("sweep: the nodes of a stuck workflow cannot be read; nothing written", "namespace", u.Namespace,
			"workflow", u.Workflow, "error", u.Err)
		r.rec.Record(ctx, remediate.WorkflowRef{Namespace: u.Namespace, Name: u.Workflow, Trigger: config.ReasonSweep}, true, remediate.ReasonStuck,
			fmt.Sprintf("sweep: the workflow's nodes cannot be read, nothing was written: %v", u.Err))
		errs = append(errs, &StuckError{Err: fmt.Errorf("sweep: %s/%s: %w", u.Namespace, u.Workflow, u.Err)})
	}
	summary.Seconds = r.deps.Clock.Since(start).Seconds()
	r.deps.Log.Info("sweep finished", "workflows", summary.Workflows, "suspects", summary.Suspects,
		"remediated", summary.Remediated, "unchanged", summary.Unchanged, "failed", summary.Failed,
		"deferred", summary.Deferred, "seconds", summary.Seconds, "dryRun", summary.DryRun)
	ev, err := notify.BuildSweep(summary, r.deps.Clock.Now())
	if err == nil {
		err = r.sender.Send(ctx, ev)
	}
	if err != nil {
		errs = append(errs, &NotifyError{Err: err})
	}
	r.watching.swept(scan, todo, runs, err != nil, start, r.deps.Clock.Now())
	return errors.Join(errs...)
}

// workflow remediates every stuck node of one workflow (the manual
// re-trigger given only a workflow name). Unlike the sweep, each node's
// remediation waits for it to become safe.
func (r *runner) workflow(ctx context.Context) error {
	scan, err := r.scanner().Scan(ctx, r.deps.Clock.Now())
	if err != nil {
		return fmt.Errorf("finding the stuck nodes of %s/%s: %w", r.cfg.Namespace, r.cfg.Workflow, err)
	}
	if len(scan.Unreadable) > 0 {
		u := scan.Unreadable[0]
		r.rec.Record(ctx, remediate.WorkflowRef{Namespace: u.Namespace, Name: u.Workflow, Trigger: r.cfg.Reason}, true, remediate.ReasonStuck,
			fmt.Sprintf("the workflow's nodes cannot be read, nothing was written: %v", u.Err))
		return &StuckError{Err: fmt.Errorf("finding the stuck nodes of %s/%s: %w", u.Namespace, u.Workflow, u.Err)}
	}
	if len(scan.Candidates) == 0 {
		// Nothing stuck: report why through the node path, which tells a
		// missing or completed workflow from a healthy one.
		return r.node(ctx, remediate.Target{Namespace: r.cfg.Namespace, Workflow: r.cfg.Workflow, Trigger: r.cfg.Reason})
	}
	r.deps.Log.Info("stuck nodes found", "workflow", r.cfg.Workflow, "nodes", len(scan.Candidates))
	var errs []error
	for _, run := range r.each(ctx, scan.Candidates, r.cfg.Reason, r.cfg.SweepConcurrency.Value) {
		errs = append(errs, run.err)
	}
	return errors.Join(errs...)
}

// scanner reads the namespace and workflow the configuration names.
func (r *runner) scanner() sweep.Scanner {
	return sweep.Scanner{Kube: r.deps.Kube, Argo: r.deps.Argo, Namespace: r.cfg.Namespace,
		Workflow: r.cfg.Workflow, Grace: r.cfg.GracePeriod.Duration}
}

// nodeRun is how the remediation of one candidate ended.
type nodeRun struct {
	res remediate.Result
	err error
}

// each remediates the candidates, at most limit at once, each triggered by
// trigger, and returns one run per candidate.
func (r *runner) each(ctx context.Context, cands []sweep.Candidate, trigger string, limit int) []nodeRun {
	runs := make([]nodeRun, len(cands))
	var g errgroup.Group
	g.SetLimit(limit)
	for i, c := range cands {
		t := c.Target
		t.Trigger = trigger
		rem := r.rem
		if c.Patient() {
			rem = r.patient
		}
		g.Go(func() error {
			res, err := r.nodeWith(ctx, rem, t, c.Seed)
			runs[i] = nodeRun{res, err} // each goroutine owns its index
			return nil
		})
	}
	_ = g.Wait()
	return runs
}
