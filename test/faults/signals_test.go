package faults

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// killSwitch SIGKILLs one remediator process, once, when what the process
// does on the wire says it is at the step under test. No hook in the
// program: the proxy or the sink pulls the switch.
type killSwitch struct {
	fired atomic.Bool
	armed chan struct{}
	proc  *os.Process
}

func newKillSwitch() *killSwitch { return &killSwitch{armed: make(chan struct{})} }

// arm sets the process to kill; call it once, right after the start.
func (k *killSwitch) arm(p *os.Process) {
	k.proc = p
	close(k.armed)
}

// fire kills the armed process the first time it is called and reports
// whether it did; later calls (the Job's re-run) pass.
func (k *killSwitch) fire() bool {
	if k == nil || !k.fired.CompareAndSwap(false, true) {
		return false
	}
	<-k.armed
	_ = k.proc.Kill() // SIGKILL
	return true
}

// killPoint is where killAt pulls the switch.
type killPoint int

const (
	killNowhere     killPoint = iota
	killBeforeWrite           // at the task result's PATCH/POST, which is not forwarded
	killAfterWrite            // at the API server's answer to it, which is not relayed
)

// killAt has p kill the process armed in sw at point: the write held until
// the killed process's connection closes (so it never reaches the API
// server), or the API server's answer to it dropped. It returns the task
// result writes the API server answered so far, as "PATCH 200", "POST 201".
func killAt(p *support.Proxy, point killPoint, sw *killSwitch) (writes func() []string) {
	var mu sync.Mutex
	var wrote []string
	p.Intercept(func(w http.ResponseWriter, r *http.Request, _ support.Request) bool {
		if !isTaskResultWrite(r) || point != killBeforeWrite || !sw.fire() {
			return false
		}
		_, _ = io.Copy(io.Discard, r.Body) // the server notices a closed connection only once the body is read
		support.UntilClientGone(r)
		return true
	})
	p.OnResponse(func(resp *http.Response) error {
		if !isTaskResultWrite(resp.Request) {
			return nil
		}
		mu.Lock()
		wrote = append(wrote, resp.Request.Method+" "+resp.Status[:3])
		mu.Unlock()
		if point == killAfterWrite && sw.fire() {
			support.UntilClientGone(resp.Request)
			return support.DropAnswer
		}
		return nil
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(wrote)
	}
}

// isTaskResultWrite: a PATCH or POST of a task result (the remediator's
// two writes).
func isTaskResultWrite(r *http.Request) bool {
	return (r.Method == http.MethodPatch || r.Method == http.MethodPost) && strings.Contains(r.URL.Path, "/workflowtaskresults")
}

// jobEnv is the environment of the Job's container for s, through proxy,
// reporting to sink.
func jobEnv(s *support.Stuck, proxy *support.Proxy, sink *support.Sink, extra map[string]string) []string {
	return s.Env(proxy.Config(), sink.URL(), support.Merge(map[string]string{
		"REMEDIATOR_VERIFY_TIMEOUT": "30s", "REMEDIATOR_SINK_TIMEOUT": sinkTimeout.String(), "REMEDIATOR_SINK_RETRIES": "3",
	}, extra))
}

// runAttempt runs one attempt of the Job, arming sw (may be nil) with it.
func runAttempt(t *testing.T, env []string, sw *killSwitch) support.Result {
	t.Helper()
	p := support.Start(t, envBinary(), env)
	if sw != nil {
		sw.arm(p.OS())
	}
	return p.Wait(2 * time.Minute)
}

// remediatedEventID is the id of the CloudEvent an uninterrupted run sends
// for the scenario's node (cluster "default", not a dry run).
func remediatedEventID(s *support.Stuck) string {
	return notify.ID("default", s.NS, s.WF.Name, string(s.WF.UID), s.NodeID, string(remediate.OutcomeRemediated), false)
}

// TestSIGKILLAtEachStepThenJobRetry kills the real binary at each step of
// its run — before the task result's write reaches the API server, after
// the API server has done it but before the answer arrives, and when the
// CloudEvent is sent — then runs it again with the same environment, as
// the Job's retry does. The end state is the uninterrupted one: the task
// result written exactly once with our annotations, the workflow ended, the
// re-run exits 0 and reports remediated under the event id an
// uninterrupted run uses, and every run that got that far left one Event.
func TestSIGKILLAtEachStepThenJobRetry(t *testing.T) {
	normal := "Normal TaskResultComplete"
	earlier := "Normal " + remediate.ReasonRemediatedEarlier
	tests := []struct {
		name   string
		legacy bool // no task result: the re-run creates it (POST)
		proxy  killPoint
		sink   bool // the sink kills at the CloudEvent
		// previously: the re-run found the write done.
		previously bool
		events     []string
	}{
		{name: "before the patch", proxy: killBeforeWrite, events: []string{normal}},
		{name: "right after the patch", proxy: killAfterWrite, previously: true, events: []string{earlier}},
		{name: "before the notification", sink: true, previously: true, events: []string{earlier, normal}},
		{name: "legacy: before the create", legacy: true, proxy: killBeforeWrite, events: []string{"Normal TaskResultCreate"}},
		{name: "legacy: right after the create", legacy: true, proxy: killAfterWrite, previously: true, events: []string{earlier}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var s *support.Stuck
			action, wantWrite := "complete", "PATCH 200"
			extra := map[string]string{}
			if tt.legacy {
				// The annotation path: the executor never wrote a task
				// result, and the pod is gone.
				s = support.NewStuck(t, env.Cluster, wfv1.NodeError, fixtures.Bool(false))
				if err := s.K.Delete(ctx, s.NS, s.Pod.Name); err != nil {
					t.Fatal(err)
				}
				action, wantWrite = "create", "POST 201"
				extra["REMEDIATOR_GRACE_PERIOD"] = "0s"
			} else {
				s = waitingNode(t)
				s.OOMKill(kubelet.WaitKilled)
			}
			go s.StandInForController(ctx, 2*time.Minute)

			sw := newKillSwitch()
			proxy := support.NewProxy(t, env.Config)
			writes := killAt(proxy, tt.proxy, sw)
			sink := support.NewSink(t, support.SinkAccept)
			if tt.sink {
				sink = support.NewSink(t, support.SinkAccept, support.SinkKill)
				sink.Kill = sw.fire
			}
			job := jobEnv(s, proxy, sink, extra)

			first := runAttempt(t, job, sw)
			if !sw.fired.Load() || !first.Killed {
				t.Fatalf("the first attempt was not killed (switch %v, exit %d):\n%s", sw.fired.Load(), first.Code, first.Stderr)
			}
			afterKill := writes()
			retry := runAttempt(t, job, nil)
			t.Logf("killed after %s; re-run exit %d in %s; task result writes %v (%v at the kill)",
				first.Took.Round(time.Millisecond), retry.Code, retry.Took.Round(time.Millisecond), writes(), afterKill)

			if retry.Code != 0 {
				t.Fatalf("re-run exit code %d, want 0:\n%s", retry.Code, retry.Stderr)
			}
			if got := writes(); !slices.Equal(got, []string{wantWrite}) {
				t.Errorf("task result writes over both attempts %v, want [%s]", got, wantWrite)
			}
			tr := s.TaskResult()
			if tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" || tr.Annotations[remediate.AnnotationAction] != action ||
				tr.Annotations[remediate.AnnotationRemediatedAt] == "" || tr.Annotations[remediate.AnnotationRemediatedBy] == "" {
				t.Errorf("task result labels %v annotations %v", tr.Labels, tr.Annotations)
			}
			support.Eventually(t, "the workflow to end", time.Minute, func(ctx context.Context) (bool, error) {
				wf, err := env.Argo.ArgoprojV1alpha1().Workflows(s.NS).Get(ctx, s.WF.Name, metav1.GetOptions{})
				return err == nil && wf.Status.Phase.Completed(), err
			})

			// The re-run's report: the outcome, and the id, of an
			// uninterrupted run.
			fin := retry.Line("remediation finished")
			if fin == nil || fin["outcome"] != string(remediate.OutcomeRemediated) || fin["previously"] != tt.previously || fin["action"] != action {
				t.Errorf("re-run's final log line %v, want outcome remediated, previously %v, action %s", fin, tt.previously, action)
			}
			got := sink.Processed()
			if len(got) != 1 {
				t.Fatalf("sink processed %d events, want the re-run's one", len(got))
			}
			data, _ := got[0]["data"].(map[string]any)
			if got[0]["id"] != remediatedEventID(s) || got[0]["type"] != notify.TypePrefix+"remediated.v1" ||
				data["outcome"] != "remediated" || data["action"] != action || (data["previously"] == true) != tt.previously {
				t.Errorf("re-run's CloudEvent id %v type %v data %v; want id %s", got[0]["id"], got[0]["type"], data, remediatedEventID(s))
			}
			if tt.sink {
				// The killed attempt had sent the very same id.
				if a := sink.Attempts(); len(a) != 2 || a[0].ID != a[1].ID {
					t.Errorf("sink attempts %+v: the killed run's id differs from the re-run's", a)
				}
			}
			if ev := s.Events(); !slices.Equal(ev, tt.events) {
				t.Errorf("Kubernetes Events %v, want %v", ev, tt.events)
			}
			if l := retry.Line("notification failed"); l != nil {
				t.Errorf("re-run logged %v", l)
			}
		})
	}
}

// TestSIGTERMStopsAtOnce sends SIGTERM to the real binary while it waits:
// it must exit within two seconds, non-zero (the Job retries), having
// written nothing.
func TestSIGTERMStopsAtOnce(t *testing.T) {
	s := waitingNode(t)
	p := support.NewProxy(t, env.Config)
	pr := support.Start(t, env.Binary, s.Env(p.Config(), "", nil))
	waitUntil(t, "the remediator to wait on its watches", func() bool { return len(p.Requests(pr.Started(), isWatch)) >= 3 })
	sent := time.Now()
	if err := pr.OS().Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res := pr.Wait(time.Minute)
	if res.Code != 1 {
		t.Errorf("exit code %d, want 1 so the Job retries", res.Code)
	}
	if took := time.Since(sent); took > 2*time.Second {
		t.Errorf("took %s to stop after SIGTERM", took)
	}
	tr := s.TaskResult()
	if tr.Labels[common.LabelKeyReportOutputsCompleted] != "false" || tr.Annotations[remediate.AnnotationRemediatedAt] != "" {
		t.Errorf("written after SIGTERM: %v %v", tr.Labels, tr.Annotations)
	}
}
