package app

import (
	"context"
	"errors"
	"fmt"
	"time"

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
		return fmt.Errorf("sweep: %w", err)
	}
	todo := scan.Actionable()
	for _, c := range scan.Candidates {
		r.deps.Log.Info("sweep: suspect node", "namespace", c.Target.Namespace, "workflow", c.Target.Workflow,
			"node", c.Target.NodeID, "decision", c.Decision.String(), "dryRun", r.cfg.DryRun.Value)
	}
	errs := r.each(ctx, todo, r.cfg.SweepConcurrency.Value)
	for _, u := range scan.Unreadable {
		r.deps.Log.Warn("sweep: the nodes of a stuck workflow cannot be read; nothing written", "namespace", u.Namespace,
			"workflow", u.Workflow, "error", u.Err)
		r.rec.Record(ctx, remediate.WorkflowRef{Namespace: u.Namespace, Name: u.Workflow}, true, remediate.ReasonStuck,
			fmt.Sprintf("sweep: the workflow's nodes cannot be read, nothing was written: %v", u.Err))
		errs = append(errs, &StuckError{Err: fmt.Errorf("sweep: %s/%s: %w", u.Namespace, u.Workflow, u.Err)})
	}
	failed := 0
	for _, e := range errs {
		if e != nil {
			failed++
		}
	}
	summary := notify.SweepSummary{
		Cluster: r.cfg.ClusterName, Namespace: r.cfg.Namespace, Workflows: scan.Workflows, Suspects: scan.Suspects,
		Remediated: len(todo) - failed, Failed: failed + len(scan.Unreadable), Deferred: scan.Suspects - len(todo),
		Seconds: r.deps.Clock.Since(start).Seconds(), DryRun: r.cfg.DryRun.Value,
	}
	r.deps.Log.Info("sweep finished", "workflows", summary.Workflows, "suspects", summary.Suspects,
		"remediated", summary.Remediated, "failed", summary.Failed, "deferred", summary.Deferred,
		"seconds", summary.Seconds, "dryRun", summary.DryRun)
	ev, err := notify.BuildSweep(summary, r.deps.Clock.Now())
	if err == nil {
		err = r.sender.Send(ctx, ev)
	}
	if err != nil {
		errs = append(errs, &NotifyError{Err: err})
	}
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
		r.rec.Record(ctx, remediate.WorkflowRef{Namespace: u.Namespace, Name: u.Workflow}, true, remediate.ReasonStuck,
			fmt.Sprintf("the workflow's nodes cannot be read, nothing was written: %v", u.Err))
		return &StuckError{Err: fmt.Errorf("finding the stuck nodes of %s/%s: %w", u.Namespace, u.Workflow, u.Err)}
	}
	if len(scan.Candidates) == 0 {
		// Nothing stuck: report why through the node path, which tells a
		// missing or completed workflow from a healthy one.
		return r.node(ctx, remediate.Target{Namespace: r.cfg.Namespace, Workflow: r.cfg.Workflow, Trigger: r.cfg.Reason})
	}
	r.deps.Log.Info("stuck nodes found", "workflow", r.cfg.Workflow, "nodes", len(scan.Candidates))
	return errors.Join(r.each(ctx, scan.Candidates, r.cfg.SweepConcurrency.Value)...)
}

// scanner reads the namespace and workflow the configuration names.
func (r *runner) scanner() sweep.Scanner {
	return sweep.Scanner{Kube: r.deps.Kube, Argo: r.deps.Argo, Namespace: r.cfg.Namespace,
		Workflow: r.cfg.Workflow, Grace: r.cfg.GracePeriod.Duration}
}

// each remediates the candidates, at most limit at once, and returns one
// error (or nil) per candidate.
func (r *runner) each(ctx context.Context, cands []sweep.Candidate, limit int) []error {
	errs := make([]error, len(cands))
	var g errgroup.Group
	g.SetLimit(limit)
	for i, c := range cands {
		t := c.Target
		t.Trigger = r.cfg.Reason
		if r.cfg.Mode != "" {
			t.Trigger = r.cfg.Mode
		}
		rem := r.rem
		if c.Patient() {
			rem = r.patient
		}
		g.Go(func() error {
			errs[i] = r.nodeWith(ctx, rem, t) // each goroutine owns its index
			return nil
		})
	}
	_ = g.Wait()
	return errs
}
