package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
)

// Log messages of the remediator the tests wait on.
const (
	msgReadFailed  = "reading failed; trying again"
	msgWatchFailed = "watching failed; reading again"
	msgWaiting     = "waiting"
	msgCompleted   = "task result completed"
)

func isWatch(r support.Request) bool { return r.Verb == "watch" }
func isList(r support.Request) bool  { return r.Verb == "list" }

// waitingRemediator starts the binary on a new scenario and returns once it
// waits on its three watches (workflow, task result, pod).
func waitingRemediator(t *testing.T) (*support.Stuck, *support.Proxy, *process) {
	t.Helper()
	s := waitingNode(t)
	p := support.NewProxy(t, env.Config)
	pr := startRemediator(t, s, p.Config())
	waitUntil(t, "the remediator to wait on its watches", func() bool { return len(p.Requests(pr.Started(), isWatch)) >= 3 })
	return s, p, pr
}

// ending is how the node's pod ends after the outage.
type ending struct {
	name       string
	play       func(*support.Stuck)
	outcome    remediate.Outcome
	decision   decide.Reason
	wantWrites int
	// orEnded: the run may also find the workflow already complete, with
	// no write: when the stand-in controller ends it between the label's
	// flip and the run's next read (a timing the test does not control).
	orEnded bool
}

// accepts tells whether a run that ended with outcome and decision
// matches end.
func (end ending) accepts(outcome, decision string) bool {
	if outcome == string(end.outcome) && decision == string(end.decision) {
		return true
	}
	return end.orEnded && outcome == string(remediate.OutcomeAlreadyComplete)
}

var (
	oomKilled = ending{"OOMKilled", oomKill, remediate.OutcomeRemediated, decide.ReasonWaitTerminated, 1, false}
	// healthy: the wait container finalizes the task result itself; the
	// remediator must write nothing.
	healthy = ending{"WaitFinishes", finishNormally, remediate.OutcomeNotStuck, decide.ReasonTaskResultComplete, 0, true}
)

// TestAPIServerRestart stops kube-apiserver while the binary waits on its
// watches, keeps it down until the binary has failed several reads, starts
// it again, and only then ends the pod. The binary must ride through the
// outage (still running, no exit), watch again, and finish with the right
// outcome: the OOMKilled node's task result completed by exactly one write;
// the healthy node's never touched.
func TestAPIServerRestart(t *testing.T) {
	for _, end := range []ending{oomKilled, healthy} {
		t.Run(end.name, func(t *testing.T) {
			ctx := context.Background()
			s, p, pr := waitingRemediator(t)

			p.Down() // the API server's address refuses connections from now on
			down := time.Now()
			if err := env.StopAPIServer(); err != nil {
				t.Fatal(err)
			}
			stopped := time.Now()
			failed := pr.Logged(msgReadFailed)
			waitUntil(t, "eight failed reads during the outage", func() bool { return pr.Logged(msgReadFailed) >= failed+8 })
			if err := env.StartAPIServer(ctx); err != nil {
				t.Fatal(err)
			}
			if !pr.Running() {
				t.Fatalf("the remediator exited (code %d) while the API server was down", pr.ExitCode())
			}
			p.Up()
			up := time.Now()
			waitUntil(t, "the remediator to watch again", func() bool { return len(p.Requests(up, isWatch)) >= 3 })
			rewatch := p.Requests(up, isWatch)[0].At.Sub(up)

			end.play(s)
			go s.StandInForController(ctx, 2*time.Minute)
			checkEnd(t, s, p, pr, end)
			t.Logf("kube-apiserver down %s (stop %s); remediator: %d failed reads meanwhile, first watch %s after the restart; "+
				"after the restart %d LIST, %d WATCH; whole run %s; requests: %s",
				up.Sub(down).Round(time.Millisecond), stopped.Sub(down).Round(time.Millisecond), pr.Logged(msgReadFailed),
				rewatch.Round(time.Millisecond), len(p.Requests(up, isList)), len(p.Requests(up, isWatch)),
				pr.Took().Round(time.Millisecond), support.Summary(p.Requests(pr.Started(), nil)))
		})
	}
}

// TestAPIServerRestartDirect is TestAPIServerRestart/OOMKilled without the
// proxy: the binary talks to kube-apiserver itself (TLS, HTTP/2), so it is
// the binary's own connections that break and are made again. Its writes are
// counted from its log ("task result completed").
func TestAPIServerRestartDirect(t *testing.T) {
	ctx := context.Background()
	s := waitingNode(t)
	pr := startRemediator(t, s, env.Config)
	waitUntil(t, "the remediator to wait", func() bool { return pr.Logged(msgWaiting) > 0 })

	down := time.Now()
	if err := env.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	failed := pr.Logged(msgReadFailed)
	waitUntil(t, "eight failed reads during the outage", func() bool { return pr.Logged(msgReadFailed) >= failed+8 })
	waits := pr.Logged(msgWaiting)
	if err := env.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	if !pr.Running() {
		t.Fatalf("the remediator exited (code %d) while the API server was down", pr.ExitCode())
	}
	waitUntil(t, "the remediator to wait again", func() bool { return pr.Logged(msgWaiting) > waits })
	rewait := time.Since(up)

	oomKill(s)
	go s.StandInForController(ctx, 2*time.Minute)
	if code := pr.wait(); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if line := pr.Finished(); line["outcome"] != string(remediate.OutcomeRemediated) {
		t.Errorf("log: outcome %v, want %s", line["outcome"], remediate.OutcomeRemediated)
	}
	if ev := pr.event(); ev.Outcome != string(remediate.OutcomeRemediated) {
		t.Errorf("CloudEvent: outcome %s", ev.Outcome)
	}
	if n := pr.Logged(msgCompleted); n != 1 {
		t.Errorf("%q logged %d times, want 1", msgCompleted, n)
	}
	if tr := s.TaskResult(); tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" || tr.Annotations[remediate.AnnotationRemediatedAt] == "" {
		t.Errorf("task result: labels %v, annotations %v", tr.Labels, tr.Annotations)
	}
	t.Logf("kube-apiserver down %s; remediator: %d failed reads, waiting again %s after the restart (/readyz ok); whole run %s",
		up.Sub(down).Round(time.Millisecond), pr.Logged(msgReadFailed), rewait.Round(time.Millisecond), pr.Took().Round(time.Millisecond))
}

// checkEnd waits for the binary to exit and checks its exit code, the
// outcome in its log and CloudEvent, and its writes of the task result.
func checkEnd(t *testing.T, s *support.Stuck, p *support.Proxy, pr *process, end ending) {
	t.Helper()
	if code := pr.wait(); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	line := pr.Finished()
	outcome, _ := line["outcome"].(string)
	decision, _ := line["decision"].(string)
	if !end.accepts(outcome, decision) {
		t.Errorf("log: outcome %v (%v), want %s (%s)", line["outcome"], line["decision"], end.outcome, end.decision)
	}
	if ev := pr.event(); ev.Outcome != outcome || ev.Decision != decision {
		t.Errorf("CloudEvent: outcome %s (%s), the log's %s (%s)", ev.Outcome, ev.Decision, outcome, decision)
	}
	if outcome == string(remediate.OutcomeAlreadyComplete) {
		t.Logf("the workflow ended before the run's next read: %s (%s)", outcome, decision)
	}
	if w := p.TaskResultWrites(pr.Started()); len(w) != end.wantWrites {
		t.Errorf("%d writes of the task result (%s), want %d", len(w), support.Summary(w), end.wantWrites)
	}
	tr := s.TaskResult()
	remediated := tr.Annotations[remediate.AnnotationRemediatedAt] != ""
	if tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" || remediated != (end.wantWrites > 0) {
		t.Errorf("task result: labels %v, annotations %v", tr.Labels, tr.Annotations)
	}
}

// TestEtcdRestart stops etcd while the binary waits on its watches; the API
// server stays up. WatchesKept: nothing else happens during the outage; the
// binary's watches outlive it. WatchesCut: its connections are also cut
// during the outage, so it reads again while the API server has no storage.
// Either way, once etcd is back and the pod ends, the task result must be
// completed by exactly one write.
func TestEtcdRestart(t *testing.T) {
	for _, cut := range []bool{false, true} {
		name := map[bool]string{false: "WatchesKept", true: "WatchesCut"}[cut]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, p, pr := waitingRemediator(t)

			down := time.Now()
			if err := env.StopEtcd(); err != nil {
				t.Fatal(err)
			}
			stopped := time.Now()
			waitUntil(t, "kube-apiserver to report etcd unready", func() bool {
				_, err := env.Kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
				return err != nil
			})
			if cut {
				p.Down()
				p.Up()
			}
			waitUntil(t, "the remediator to read again", func() bool { return !cut || len(p.Requests(stopped, isList)) > 0 })
			starting := time.Now()
			if err := env.StartEtcd(ctx); err != nil {
				t.Fatal(err)
			}
			ready := time.Now()
			if !pr.Running() {
				t.Fatalf("the remediator exited (code %d) while etcd was down", pr.ExitCode())
			}
			// Whether the API server ends watches during the outage is its
			// business (1.34 kept them); the binary must cope either way.
			duringOutage := p.Requests(stopped, func(r support.Request) bool { return r.At.Before(starting) })
			waitUntil(t, "the remediator to wait on its watches", func() bool {
				return len(p.Requests(stopped, isWatch)) >= 3 || len(p.Requests(stopped, isList)) == 0
			})
			figures := fmt.Sprintf("etcd down %s (stop %s, start until /readyz ok %s); requests during the outage: [%s]",
				ready.Sub(down).Round(time.Millisecond), stopped.Sub(down).Round(time.Millisecond),
				ready.Sub(starting).Round(time.Millisecond), support.Summary(duringOutage))
			if lists := p.Requests(stopped, isList); len(lists) > 0 {
				figures += fmt.Sprintf("; first LIST after the cut answered %d after %s (%s after etcd was started); first watch again at /readyz ok %+v",
					lists[0].Status, lists[0].Done.Sub(lists[0].At).Round(time.Millisecond), lists[0].Done.Sub(starting).Round(time.Millisecond),
					p.Requests(stopped, isWatch)[0].At.Sub(ready).Round(time.Millisecond))
			}

			oomKill(s)
			go s.StandInForController(ctx, 2*time.Minute)
			checkEnd(t, s, p, pr, oomKilled)
			t.Logf("%s; %d failed reads or watches; whole run %s; requests: %s", figures,
				pr.Logged(msgReadFailed)+pr.Logged(msgWatchFailed), pr.Took().Round(time.Millisecond), support.Summary(p.Requests(pr.Started(), nil)))
		})
	}
}

// TestChangeBeforeRewatch ends the pod while the binary cannot reach the
// API server (the restarted server is up, its address still refused), so
// the change happens before the binary watches again: it must see it in the
// LISTs of its next read and write once, with no watch in between.
func TestChangeBeforeRewatch(t *testing.T) {
	ctx := context.Background()
	s, p, pr := waitingRemediator(t)
	p.Down()
	down := time.Now()
	if err := env.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	failed := pr.Logged(msgReadFailed)
	waitUntil(t, "four failed reads during the outage", func() bool { return pr.Logged(msgReadFailed) >= failed+4 })
	if err := env.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	oomKill(s)
	go s.StandInForController(ctx, 2*time.Minute)
	p.Up()
	up := time.Now()
	checkEnd(t, s, p, pr, oomKilled)

	var beforeWrite []support.Request
	for _, r := range p.Requests(up, nil) {
		if r.Resource == "workflowtaskresults" && r.Verb == "patch" {
			break
		}
		beforeWrite = append(beforeWrite, r)
	}
	for _, r := range beforeWrite {
		if r.Verb != "list" {
			t.Errorf("between the restart and the write: %s, want LISTs only", support.Summary(beforeWrite))
			break
		}
	}
	t.Logf("kube-apiserver down %s; from the restart to the write: %s; whole run %s; requests: %s",
		up.Sub(down).Round(time.Millisecond), support.Summary(beforeWrite), pr.Took().Round(time.Millisecond), support.Summary(p.Requests(pr.Started(), nil)))
}
