package remediate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"
	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"golang.org/x/time/rate"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Recorder records Kubernetes Events on the Workflow.
type Recorder interface {
	Record(ctx context.Context, ref WorkflowRef, warning bool, reason, message string)
}

// WorkflowRef names the Workflow an Event is about and, when the Event is
// about one of its nodes, that node, the run's trigger and when the node
// ended: the Event carries them as annotations, from which the long-running
// sweep (`remediator watch`) counts the rescues of every run.
type WorkflowRef struct {
	Namespace, Name, UID string
	NodeID, Trigger      string
	NodeFinished         time.Time
}

// ref names the result's workflow and node for an Event.
func (r Result) ref() WorkflowRef {
	t := r.Target
	return WorkflowRef{Namespace: t.Namespace, Name: t.Workflow, UID: r.WorkflowUID, NodeID: t.NodeID,
		Trigger: t.Trigger, NodeFinished: r.NodeFinished}
}

// Remediator rescues workflow nodes. It is safe for concurrent use.
type Remediator struct {
	kube     kubernetes.Interface
	argo     versioned.Interface
	recorder Recorder
	// workflows reads Workflows lean (wfstatus): a run's memory does not
	// grow with the workflow's node count.
	workflows wfstatus.Reader
	clock     clock.WithTicker
	log       *slog.Logger
	opts      Options
}

// New returns a Remediator. clk may be nil for the real clock.
func New(kube kubernetes.Interface, argo versioned.Interface, rec Recorder, clk clock.WithTicker, log *slog.Logger, opts Options) *Remediator {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Remediator{kube: kube, argo: argo, workflows: wfstatus.NewReader(argo), recorder: rec, clock: clk, log: log, opts: opts}
}

// Run rescues one node. It returns an error only for a failure worth a
// retry (API errors, ctx cancelled); every other end is an Outcome.
func (r *Remediator) Run(ctx context.Context, t Target) (Result, error) {
	return r.RunSeeded(ctx, t, nil)
}

// RunSeeded is Run whose first decision may be taken on what a bulk read
// already showed (seed, nil for none) instead of a read of its own: only
// when that decision is a write, which the API server refuses if the task
// result changed since (see [Seed]); every other decision, and any decision
// after a refused write, is taken on a read of the run's own.
func (r *Remediator) RunSeeded(ctx context.Context, t Target, seed *Seed) (Result, error) {
	res := Result{Target: t, Started: r.clock.Now()}
	log := r.log.With("namespace", t.Namespace, "workflow", t.Workflow, "node", t.NodeID)
	waitCtx, cancel := context.WithTimeout(ctx, r.opts.Deadline)
	defer cancel()
	mem := podMemory{uid: t.PodUID}

	// Reads are paced so that a watch that keeps closing (an API server
	// restarting, say) cannot turn the loop into a busy one.
	pace := rate.NewLimiter(rate.Every(250*time.Millisecond), 4)
	unanswered := false // a write of this run got no answer
	for {
		if err := pace.Wait(waitCtx); err != nil {
			<-waitCtx.Done() // the next read would pass the deadline
			return r.endWait(ctx, res, waitCtx.Err())
		}
		s, seeded := r.take(&seed)
		if seeded && !r.writesOn(s, t, &mem, r.clock.Now()) {
			seeded = false // decided on a read of the run's own below
		}
		if !seeded {
			var err error
			if s, err = r.read(waitCtx, t); err != nil {
				if fatal(err) || waitCtx.Err() != nil {
					return r.endWait(ctx, res, err)
				}
				log.Warn("reading failed; trying again", "error", err)
				continue
			}
		}
		now := r.clock.Now()
		if s.wf == nil {
			res.Outcome = OutcomeWorkflowGone
			return res, nil
		}
		res.fromWorkflow(s.wf)
		res.ChainRoot = chainRoot(s.wf)
		if unanswered && remediatedBefore(s.tr) && s.tr.Annotations[AnnotationRemediatedBy] == r.opts.Identity {
			// This run's own write: its answer was lost, not the write.
			res.markPrevious(s.tr)
			res.Previously = false
			log.Info("the write whose answer was lost had been applied")
			return r.written(ctx, res, log)
		}
		if s.wf.Phase.Completed() {
			res.Outcome = OutcomeAlreadyComplete
			if remediatedBefore(s.tr) {
				res.markPrevious(s.tr)
				res.Outcome = OutcomeRemediated
				r.recordEarlier(ctx, res, s.tr)
			}
			return res, nil
		}
		if t.NodeID == "" {
			// A workflow-wide run that found no stuck node.
			res.Outcome, res.Reason = OutcomeNotStuck, ReasonNoStuckNode
			return res, nil
		}
		node, known, err := s.wf.Nodes.Get(t.NodeID)
		if err != nil && !errors.Is(err, wfstatus.ErrOffloaded) {
			// A corrupt status.compressedNodes: nothing is decided on it.
			res.Outcome, res.Err = OutcomeNodesUnreadable, err.Error()
			r.warnStuck(ctx, &res, fmt.Sprintf("node %s: the workflow's nodes cannot be read, nothing was written: %v", t.NodeID, err))
			return res, nil
		}
		res.NodesStorage = string(s.wf.Nodes.Storage())
		if !known && !blocks(s.wf, t.NodeID) {
			res.Outcome = OutcomeNodeUnknown
			if held := heldBy(s.wf); len(held) > 0 {
				r.warnStuck(ctx, &res, fmt.Sprintf("node %s is not in the workflow, which is held by the task results of %v", t.NodeID, held))
			}
			return res, nil
		}
		// Unknown here but blocking (offloaded nodes, or an entry whose node
		// the object lacks): decide on the pod's evidence alone.
		mem.observe(s.pod, now)
		res.fromNode(node, &mem)

		in := inputOf(s, node, known, t, &mem, r.opts.Grace, now)
		d := decide.Decide(in)
		if err := decide.CheckInvariants(in, d); err != nil {
			return res, err
		}
		if seeded && d.Action != decide.Complete && d.Action != decide.Create {
			continue // writesOn said write; whatever else is decided on a read
		}
		res.Reason = d.Reason
		log.Debug("decided", "decision", d.String(), "input", fmt.Sprintf("%+v", in))
		if in.Event == decide.EventWaitTerminated && d.Action != decide.Wait && d.Action != decide.Skip {
			log.Info("the triggering event proved the wait container terminated", "pod", t.PodName, "podUID", t.PodUID,
				"exitCode", t.Wait.ExitCode, "finishedAt", t.Wait.FinishedAt)
		}

		switch d.Action {
		case decide.Skip:
			if d.Reason == decide.ReasonTaskResultComplete && remediatedBefore(s.tr) {
				res.markPrevious(s.tr)
				r.recordEarlier(ctx, res, s.tr)
				return r.verify(ctx, res, log)
			}
			res.Outcome = OutcomeNotStuck
			if t.PodUID != "" && (d.Reason == decide.ReasonPodReplaced || d.Reason == decide.ReasonNodePending) {
				// Triggered by a pod that ended: its step reruns.
				res.Outcome = OutcomeRerunByArgo
				r.recordRerun(ctx, res)
			}
			return res, nil
		case decide.Wait:
			log.Info("waiting", "reason", d.Reason, "recheckAfter", d.RecheckAfter)
			if err := r.waitForChange(waitCtx, t, s, d.RecheckAfter, &mem); err != nil {
				if fatal(err) || waitCtx.Err() != nil {
					return r.endWait(ctx, res, err)
				}
				log.Warn("watching failed; reading again", "error", err)
			}
			continue
		}

		res.Action = d.Action.String()
		res.Waited = now.Sub(res.Started)
		if r.opts.DryRun {
			res.Outcome = OutcomeWouldRemediate
			log.Info("dry run: would "+res.Action+" the task result", "reason", d.Reason)
			return res, nil
		}
		if d.Action == decide.Complete {
			err = r.complete(ctx, s.tr, t, string(d.Reason))
		} else {
			err = r.create(ctx, s.wf, t, string(d.Reason))
		}
		if stale(err) {
			log.Info("the objects changed before the write; reading again", "error", err)
			continue
		}
		if noAnswer(err) && ctx.Err() == nil {
			// The connection broke (an API server going down): the write
			// may or may not have been applied. Read again to find out; a
			// repeated write is refused if the first one was applied (it
			// carries the resourceVersion it was based on, or is a create).
			log.Warn("the write got no answer; reading again to see whether it was applied", "error", err)
			unanswered = true
			continue
		}
		if err != nil {
			return res, err
		}
		res.Acted = r.clock.Now()
		return r.written(ctx, res, log)
	}
}

// written logs and records the run's write, nudges if asked, and verifies.
func (r *Remediator) written(ctx context.Context, res Result, log *slog.Logger) (Result, error) {
	t := res.Target
	log.Info("task result "+res.Action+"d", "reason", res.Reason, "waited", res.Waited)
	r.recorder.Record(ctx, res.ref(), false, "TaskResult"+titled(res.Action),
		fmt.Sprintf("%s WorkflowTaskResult %s of node %s (%s): %s; its wait container can no longer write (%s)",
			titled(res.Action+"d"), t.NodeID, res.NodeName, res.NodePhase, t.Trigger, res.Reason))
	if r.opts.Nudge {
		if err := r.nudge(ctx, t); err != nil {
			log.Warn("nudge failed; the controller will still reconcile after its requeue delay", "error", err)
		}
	}
	return r.verify(ctx, res, log)
}

// endWait turns the end of the waiting phase into a result: the deadline is
// an outcome, anything else (a cancelled parent context, an API error) an
// error.
func (r *Remediator) endWait(ctx context.Context, res Result, err error) (Result, error) {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		res.Outcome = OutcomeDeadlineExceeded
		res.Waited = r.clock.Since(res.Started)
		return res, nil
	}
	return res, err
}

// titled upper-cases the first letter of s, for an Event reason or
// message made of an action ("complete" → "Complete").
func titled(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s // empty, or not UTF-8: left as it is
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// warnStuck marks a run that leaves a stuck workflow as it found it and
// records why on the Workflow as a Warning Event.
func (r *Remediator) warnStuck(ctx context.Context, res *Result, message string) {
	res.Stuck = true
	t := res.Target
	r.log.Warn("the workflow stays stuck", "namespace", t.Namespace, "workflow", t.Workflow, "node", t.NodeID,
		"outcome", res.Outcome, "detail", message)
	r.recorder.Record(ctx, res.ref(), true, ReasonStuck, message)
}
