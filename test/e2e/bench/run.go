package main

import (
	"context"
	"fmt"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/e2e"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// Modes of a run: who gets the workflow out of Running.
const (
	Upstream   = "upstream"   // nobody: the controller's own self-heal, if any
	Remediator = "remediator" // the remediator, triggered by the OOM
	Nudge      = "nudge"      // the remediator with Nudge on
)

// job is one measured run.
type job struct {
	Version  string
	Scenario e2e.Scenario
	Mode     string
}

// Sample is what one run measured; times are absolute, zero when not seen.
type Sample struct {
	Version, Scenario, Mode string
	// OOM: main reported OOMKilled. Deleted: the pod deleted. NodeFailed:
	// the controller first showed the node Failed/Error. Acted: the
	// remediator wrote. Terminal: the workflow seen in a completed phase.
	OOM, Deleted, NodeFailed, Acted, Terminal time.Time
	Phase                                     string
	Reran                                     bool // the controller re-created the pod (v3.7)
	Outcome, Reason                           string
	Err                                       string
}

// Capped tells whether the workflow did not end within the cap.
func (s Sample) Capped() bool { return s.Terminal.IsZero() && s.Err == "" }

type runner struct {
	c      *cluster.Cluster
	logDir string
	cap    time.Duration
	grace  time.Duration
}

// trigger tells when the OOM trigger reaches the remediator: at the OOM,
// or, when the pod is deleted at once, just after the deletion (a Job
// started by an event takes longer than that).
func trigger(s e2e.Scenario, fire func(e2e.Timeline)) e2e.Hooks {
	if s.Fate == e2e.OOMDeletedAtOnce {
		return e2e.Hooks{Gone: fire}
	}
	return e2e.Hooks{OOM: fire}
}

func (r runner) run(ctx context.Context, j job) (s Sample) {
	s = Sample{Version: j.Version, Scenario: j.Scenario.Name, Mode: j.Mode}
	ctx, cancel := context.WithCancel(ctx) // ends a remediator still waiting when the run ends
	defer cancel()
	fired := make(chan e2e.Timeline, 1)
	k, err := e2e.StartCase(ctx, r.c, j.Version, j.Scenario, r.logDir, trigger(j.Scenario, func(tl e2e.Timeline) { fired <- tl }))
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer k.Close()

	type result struct {
		res remediate.Result
		err error
	}
	results := make(chan result, 1)
	if j.Mode != Upstream {
		rem, err := k.Remediator(remediate.Options{Grace: r.grace, Deadline: 5 * time.Minute,
			VerifyTimeout: 2 * time.Minute, Nudge: j.Mode == Nudge})
		if err != nil {
			s.Err = err.Error()
			return s
		}
		go func() {
			select {
			case tl := <-fired:
				res, err := rem.Run(ctx, k.Target(tl, "OOMKilled"))
				results <- result{res, err}
			case <-ctx.Done():
			}
		}()
	}

	victim, err := k.Player.Await(ctx, 2*time.Minute, "the OOM", func(tl e2e.Timeline) bool { return tl.Victim && !tl.OOM.IsZero() })
	if err != nil {
		s.Err = err.Error()
		return s
	}
	wf, at, err := k.AwaitWorkflow(ctx, r.cap, "the terminal phase", func(wf *wfv1.Workflow) bool {
		if n, ok := wf.Status.Nodes[victim.NodeID]; ok && n.Phase.FailedOrError() && s.NodeFailed.IsZero() {
			s.NodeFailed = time.Now()
		}
		return wf.Status.Phase.Completed()
	})
	if err == nil {
		s.Terminal, s.Phase = at, string(wf.Status.Phase)
	} else if wf != nil {
		s.Phase = string(wf.Status.Phase)
	}
	for _, tl := range k.Player.Timelines() {
		s.Reran = s.Reran || tl.Attempt > 1
		if tl.Victim {
			s.OOM, s.Deleted = tl.OOM, tl.Deleted
		}
	}
	if j.Mode != Upstream && !s.Terminal.IsZero() {
		select {
		case r := <-results:
			s.Acted, s.Outcome, s.Reason = r.res.Acted, string(r.res.Outcome), string(r.res.Reason)
			if r.err != nil {
				s.Err = "remediator: " + r.err.Error()
			}
		case <-time.After(2 * time.Minute):
			s.Err = "the remediator did not return within 2 min of the terminal phase"
		}
	}
	if err := k.Player.Err(); err != nil {
		s.Err = fmt.Sprint(err)
	}
	return s
}
