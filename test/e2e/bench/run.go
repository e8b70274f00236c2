package main

import (
	"context"
	"fmt"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/e2e"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// Modes of a run: who gets the workflow out of Running.
const (
	Upstream   = "upstream"   // nobody: the controller's own self-heal, if any
	Lowered    = "lowered"    // nobody, the controller's task-result timeouts lowered (v3.7.1+ only)
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
	// Cap is this run's observation cap from the OOM.
	Cap time.Duration
	// WaitReported: the victim's wait container reported its outputs (in
	// scenarios where it does). OutputsKept: its node then showed them
	// within e2e.OutputsWindow (nil where the victim reports none).
	WaitReported time.Time
	OutputsKept  *bool
}

// Capped tells whether the workflow did not end within the cap.
func (s Sample) Capped() bool { return s.Terminal.IsZero() && s.Err == "" }

type runner struct {
	c        *cluster.Cluster
	logDir   string
	cap      time.Duration
	stallCap time.Duration
	grace    time.Duration
	lowered  time.Duration
}

// capFor is the run's cap: upstream's default on a stall that only its
// TASK_RESULT_TIMEOUT_DURATION (10 min) ends gets stallCap.
func (r runner) capFor(j job) time.Duration {
	if j.Mode == Upstream && j.Scenario.Fate == e2e.OOMWaitExitsUnfinalized && argo.HasTaskResultTimeout(j.Version) && r.stallCap > r.cap {
		return r.stallCap
	}
	return r.cap
}

// trigger tells when the OOM trigger reaches the remediator: at the OOM,
// or, when the pod is deleted at once, just after the deletion (a Job
// started by an event takes longer than that).
func trigger(s e2e.Scenario, fire func(e2e.Timeline)) e2e.Hooks {
	if s.Fate == e2e.OOMDeletedAtOnce || s.Fate == e2e.OOMWaitFinishesPodDeleted {
		return e2e.Hooks{Gone: fire}
	}
	return e2e.Hooks{OOM: fire}
}

func (r runner) run(ctx context.Context, j job) (s Sample) {
	s = Sample{Version: j.Version, Scenario: j.Scenario.Name, Mode: j.Mode, Cap: r.capFor(j)}
	ctx, cancel := context.WithCancel(ctx) // ends a remediator still waiting when the run ends
	defer cancel()
	fired := make(chan e2e.Timeline, 1)
	var env []string
	if j.Mode == Lowered {
		env = argo.LoweredTimeoutsEnv(r.lowered)
	}
	k, err := e2e.StartCase(ctx, r.c, j.Version, j.Scenario, r.logDir, trigger(j.Scenario, func(tl e2e.Timeline) { fired <- tl }), env...)
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
	if j.Mode == Remediator || j.Mode == Nudge {
		rem, err := k.Remediator(remediate.Options{Grace: r.grace, Deadline: 5 * time.Minute,
			VerifyTimeout: 2 * time.Minute, Nudge: j.Mode == Nudge})
		if err != nil {
			s.Err = err.Error()
			return s
		}
		go func() {
			select {
			case tl := <-fired:
				res, err := rem.Run(ctx, k.TriggeredBy(tl, "OOMKilled"))
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
	wf, at, err := k.AwaitWorkflow(ctx, s.Cap, "the terminal phase", func(wf *wfv1.Workflow) bool {
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
	if j.Scenario.Fate.ReportsOutputs() && !s.Terminal.IsZero() {
		if victim, err = k.Player.VictimDone(ctx, 2*time.Minute); err != nil {
			s.Err = err.Error()
			return s
		}
		kept, err := k.OutputsKept(ctx, victim)
		if err != nil {
			s.Err = err.Error()
			return s
		}
		s.WaitReported, s.OutputsKept = victim.WaitEnding, &kept
	}
	if (j.Mode == Remediator || j.Mode == Nudge) && !s.Terminal.IsZero() {
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
