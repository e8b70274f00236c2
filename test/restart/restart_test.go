package restart

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
)

// Log messages of the remediator the tests wait on.
const (
	msgReadFailed  = "reading failed; trying again"
	msgWatchFailed = "watching failed; reading again"
	msgWaiting     = "waiting"
	msgCompleted   = "task result completed"
)

func isWatch(r request) bool { return r.verb == "watch" }
func isList(r request) bool  { return r.verb == "list" }

// waitingRemediator starts the binary on a new scenario and returns once it
// waits on its three watches (workflow, task result, pod).
func waitingRemediator(t *testing.T) (*scenario, *apiProxy, *process) {
	t.Helper()
	s := newScenario(t)
	p := newAPIProxy(t)
	pr := startRemediator(t, s, p.config())
	waitUntil(t, "the remediator to wait on its watches", func() bool { return len(p.requests(pr.started, isWatch)) >= 3 })
	return s, p, pr
}

// ending is how the node's pod ends after the outage.
type ending struct {
	name       string
	play       func(*scenario)
	outcome    remediate.Outcome
	decision   decide.Reason
	wantWrites int
}

var (
	oomKilled = ending{"OOMKilled", (*scenario).oomKill, remediate.OutcomeRemediated, decide.ReasonWaitTerminated, 1}
	// healthy: the wait container finalizes the task result itself; the
	// remediator must write nothing.
	healthy = ending{"WaitFinishes", (*scenario).finishNormally, remediate.OutcomeNotStuck, decide.ReasonTaskResultComplete, 0}
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

			p.down() // the API server's address refuses connections from now on
			down := time.Now()
			if err := env.StopAPIServer(); err != nil {
				t.Fatal(err)
			}
			stopped := time.Now()
			failed := pr.logged(msgReadFailed)
			waitUntil(t, "eight failed reads during the outage", func() bool { return pr.logged(msgReadFailed) >= failed+8 })
			if err := env.StartAPIServer(ctx); err != nil {
				t.Fatal(err)
			}
			if !pr.running() {
				t.Fatalf("the remediator exited (code %d) while the API server was down", pr.cmd.ProcessState.ExitCode())
			}
			p.up()
			up := time.Now()
			waitUntil(t, "the remediator to watch again", func() bool { return len(p.requests(up, isWatch)) >= 3 })
			rewatch := p.requests(up, isWatch)[0].at.Sub(up)

			end.play(s)
			go s.standInForController(ctx)
			checkEnd(t, s, p, pr, end)
			t.Logf("kube-apiserver down %s (stop %s); remediator: %d failed reads meanwhile, first watch %s after the restart; "+
				"after the restart %d LIST, %d WATCH; whole run %s; requests: %s",
				up.Sub(down).Round(time.Millisecond), stopped.Sub(down).Round(time.Millisecond), pr.logged(msgReadFailed),
				rewatch.Round(time.Millisecond), len(p.requests(up, isList)), len(p.requests(up, isWatch)),
				pr.took.Round(time.Millisecond), summary(p.requests(pr.started, nil)))
		})
	}
}

// TestAPIServerRestartDirect is TestAPIServerRestart/OOMKilled without the
// proxy: the binary talks to kube-apiserver itself (TLS, HTTP/2), so it is
// the binary's own connections that break and are made again. Its writes are
// counted from its log ("task result completed").
func TestAPIServerRestartDirect(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t)
	pr := startRemediator(t, s, env.Config)
	waitUntil(t, "the remediator to wait", func() bool { return pr.logged(msgWaiting) > 0 })

	down := time.Now()
	if err := env.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	failed := pr.logged(msgReadFailed)
	waitUntil(t, "eight failed reads during the outage", func() bool { return pr.logged(msgReadFailed) >= failed+8 })
	waits := pr.logged(msgWaiting)
	if err := env.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	if !pr.running() {
		t.Fatalf("the remediator exited (code %d) while the API server was down", pr.cmd.ProcessState.ExitCode())
	}
	waitUntil(t, "the remediator to wait again", func() bool { return pr.logged(msgWaiting) > waits })
	rewait := time.Since(up)

	s.oomKill()
	go s.standInForController(ctx)
	if code := pr.wait(); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if line := pr.finished(); line["outcome"] != string(remediate.OutcomeRemediated) {
		t.Errorf("log: outcome %v, want %s", line["outcome"], remediate.OutcomeRemediated)
	}
	if ev := pr.event(); ev.Outcome != string(remediate.OutcomeRemediated) {
		t.Errorf("CloudEvent: outcome %s", ev.Outcome)
	}
	if n := pr.logged(msgCompleted); n != 1 {
		t.Errorf("%q logged %d times, want 1", msgCompleted, n)
	}
	if tr := s.taskResult(); tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" || tr.Annotations[remediate.AnnotationRemediatedAt] == "" {
		t.Errorf("task result: labels %v, annotations %v", tr.Labels, tr.Annotations)
	}
	t.Logf("kube-apiserver down %s; remediator: %d failed reads, waiting again %s after the restart (/readyz ok); whole run %s",
		up.Sub(down).Round(time.Millisecond), pr.logged(msgReadFailed), rewait.Round(time.Millisecond), pr.took.Round(time.Millisecond))
}

// checkEnd waits for the binary to exit and checks its exit code, the
// outcome in its log and CloudEvent, and its writes of the task result.
func checkEnd(t *testing.T, s *scenario, p *apiProxy, pr *process, end ending) {
	t.Helper()
	if code := pr.wait(); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	line := pr.finished()
	if line["outcome"] != string(end.outcome) || line["decision"] != string(end.decision) {
		t.Errorf("log: outcome %v (%v), want %s (%s)", line["outcome"], line["decision"], end.outcome, end.decision)
	}
	if ev := pr.event(); ev.Outcome != string(end.outcome) || ev.Decision != string(end.decision) {
		t.Errorf("CloudEvent: outcome %s (%s), want %s (%s)", ev.Outcome, ev.Decision, end.outcome, end.decision)
	}
	if w := p.taskResultWrites(pr.started); len(w) != end.wantWrites {
		t.Errorf("%d writes of the task result (%s), want %d", len(w), summary(w), end.wantWrites)
	}
	tr := s.taskResult()
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
				p.down()
				p.up()
			}
			waitUntil(t, "the remediator to read again", func() bool { return !cut || len(p.requests(stopped, isList)) > 0 })
			starting := time.Now()
			if err := env.StartEtcd(ctx); err != nil {
				t.Fatal(err)
			}
			ready := time.Now()
			if !pr.running() {
				t.Fatalf("the remediator exited (code %d) while etcd was down", pr.cmd.ProcessState.ExitCode())
			}
			// Whether the API server ends watches during the outage is its
			// business (1.34 kept them); the binary must cope either way.
			duringOutage := p.requests(stopped, func(r request) bool { return r.at.Before(starting) })
			waitUntil(t, "the remediator to wait on its watches", func() bool {
				return len(p.requests(stopped, isWatch)) >= 3 || len(p.requests(stopped, isList)) == 0
			})
			figures := fmt.Sprintf("etcd down %s (stop %s, start until /readyz ok %s); requests during the outage: [%s]",
				ready.Sub(down).Round(time.Millisecond), stopped.Sub(down).Round(time.Millisecond),
				ready.Sub(starting).Round(time.Millisecond), summary(duringOutage))
			if lists := p.requests(stopped, isList); len(lists) > 0 {
				figures += fmt.Sprintf("; first LIST after the cut answered %d after %s (%s after etcd was started); first watch again at /readyz ok %+v",
					lists[0].status, lists[0].done.Sub(lists[0].at).Round(time.Millisecond), lists[0].done.Sub(starting).Round(time.Millisecond),
					p.requests(stopped, isWatch)[0].at.Sub(ready).Round(time.Millisecond))
			}

			s.oomKill()
			go s.standInForController(ctx)
			checkEnd(t, s, p, pr, oomKilled)
			t.Logf("%s; %d failed reads or watches; whole run %s; requests: %s", figures,
				pr.logged(msgReadFailed)+pr.logged(msgWatchFailed), pr.took.Round(time.Millisecond), summary(p.requests(pr.started, nil)))
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
	p.down()
	down := time.Now()
	if err := env.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	failed := pr.logged(msgReadFailed)
	waitUntil(t, "four failed reads during the outage", func() bool { return pr.logged(msgReadFailed) >= failed+4 })
	if err := env.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	s.oomKill()
	go s.standInForController(ctx)
	p.up()
	up := time.Now()
	checkEnd(t, s, p, pr, oomKilled)

	var beforeWrite []request
	for _, r := range p.requests(up, nil) {
		if r.resource == "workflowtaskresults" && r.verb == "patch" {
			break
		}
		beforeWrite = append(beforeWrite, r)
	}
	for _, r := range beforeWrite {
		if r.verb != "list" {
			t.Errorf("between the restart and the write: %s, want LISTs only", summary(beforeWrite))
			break
		}
	}
	t.Logf("kube-apiserver down %s; from the restart to the write: %s; whole run %s; requests: %s",
		up.Sub(down).Round(time.Millisecond), summary(beforeWrite), pr.took.Round(time.Millisecond), summary(p.requests(pr.started, nil)))
}
