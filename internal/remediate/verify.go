package remediate

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"golang.org/x/time/rate"
)

// verify watches the Workflow after the fix until the controller has taken
// it into account, or the verify timeout. Taken into account means: the
// workflow completed, or its entry for the node is true while other nodes
// still run (a retry, the rest of a DAG), so it is no longer held by this node.
func (r *Remediator) verify(ctx context.Context, res Result, log *slog.Logger) (Result, error) {
	t := res.Target
	vctx, cancel := context.WithTimeout(ctx, r.opts.VerifyTimeout)
	defer cancel()
	pace := rate.NewLimiter(rate.Every(time.Second), 1)
	for {
		wf, rv, err := r.readWorkflow(vctx, t)
		if err == nil && wf == nil {
			res.Outcome = OutcomeRemediated // deleted after the fix: nothing holds it any more
			return res, nil
		}
		if err == nil {
			res.fromWorkflow(wf)
			if movedOn(wf, t.NodeID) {
				res.Outcome = OutcomeRemediated
				log.Info("workflow moved on", "phase", res.WorkflowPhase, "sinceWrite", r.clock.Since(res.Acted))
				return res, nil
			}
			err = r.waitForWorkflow(vctx, t, rv)
		}
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				res.Outcome = OutcomeRemediatedUnverified
				log.Warn("the workflow did not move on within the verify timeout", "phase", res.WorkflowPhase)
				return res, nil
			}
			if fatal(err) {
				return res, err
			}
			log.Warn("verify: reading the workflow failed; trying again", "error", err)
			if err := pace.Wait(vctx); err != nil {
				res.Outcome = OutcomeRemediatedUnverified
				return res, nil
			}
		}
	}
}

func movedOn(wf *wfstatus.Workflow, nodeID string) bool {
	if wf.Phase.Completed() {
		return true
	}
	done, ok := wf.Completion[nodeID]
	if ok && !done {
		return false
	}
	running, err := wf.Nodes.Any(func(n wfv1.NodeStatus) bool { return !wfstatus.Finished(n) })
	if err != nil {
		// Offloaded (or unreadable) nodes: the entry the controller copied
		// from the task result is all the object tells.
		return ok
	}
	return running
}

// waitForWorkflow returns at the first change of the workflow after rv.
func (r *Remediator) waitForWorkflow(ctx context.Context, t Target, rv string) error {
	opts := byName(t.Workflow)
	opts.ResourceVersion, opts.AllowWatchBookmarks = rv, true
	w, err := r.argo.ArgoprojV1alpha1().Workflows(t.Namespace).Watch(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok || relevant(ev, t.Workflow) {
				return nil
			}
		}
	}
}
