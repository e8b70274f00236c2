package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
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

// killPoint is where killProxy pulls the switch.
type killPoint int

const (
	killNowhere     killPoint = iota
	killBeforeWrite           // at the task result's PATCH/POST, which is not forwarded
	killAfterWrite            // at the API server's answer to it, which is not relayed
)

// killProxy forwards the remediator's requests to the API server, records
// every write of a task result that reached the API server, and kills the
// process at its point.
type killProxy struct {
	point killPoint
	sw    *killSwitch
	mu    sync.Mutex
	wrote []string // "PATCH 200", "POST 201", ...
	srv   *httptest.Server
}

var errKilledHere = errors.New("remediator killed before the answer was relayed")

func isTaskResultWrite(r *http.Request) bool {
	return (r.Method == http.MethodPatch || r.Method == http.MethodPost) && strings.Contains(r.URL.Path, "/workflowtaskresults")
}

// untilClientGone holds a request until its client has gone (the killed
// process's connection closes), so it never sees an answer. The body must
// have been read: the server notices a closed connection only then.
func untilClientGone(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second): // a safety net; the test then fails on its assertions
	}
}

func newKillProxy(tb testing.TB, point killPoint, sw *killSwitch) *killProxy {
	tb.Helper()
	rp, err := cluster.ReverseProxy(env.Config)
	if err != nil {
		tb.Fatal(err)
	}
	p := &killProxy{point: point, sw: sw}
	rp.ErrorHandler = func(http.ResponseWriter, *http.Request, error) {} // the client is gone, or a watch was cut
	rp.ModifyResponse = func(resp *http.Response) error {
		if !isTaskResultWrite(resp.Request) {
			return nil
		}
		p.mu.Lock()
		p.wrote = append(p.wrote, resp.Request.Method+" "+resp.Status[:3])
		p.mu.Unlock()
		if p.point == killAfterWrite && p.sw.fire() {
			untilClientGone(resp.Request)
			return errKilledHere
		}
		return nil
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isTaskResultWrite(r) && p.point == killBeforeWrite && p.sw.fire() {
			_, _ = io.Copy(io.Discard, r.Body)
			untilClientGone(r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(p.srv.Close)
	return p
}

// writes lists the task result writes the API server answered.
func (p *killProxy) writes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.wrote)
}

// sinkFault is how ceSink answers one request.
type sinkFault int

const (
	sinkAccept        sinkFault = iota // 202
	sink500                            // 500
	sinkSlow                           // no answer until the client gives up; not processed
	sinkSlowProcessed                  // processed at once, answered only after the client gave up
	sinkReset                          // connection reset without an answer
	sinkKill                           // SIGKILL the remediator; no answer
)

func (f sinkFault) String() string {
	return [...]string{"accept", "500", "slow", "slow-processed", "reset", "kill"}[f]
}

// sinkAttempt is one request the sink saw.
type sinkAttempt struct {
	at    time.Time
	id    string
	fault sinkFault
}

// ceSink is a CloudEvents sink under the test's control: the n-th request
// is answered by faults[n], every later one by then.
type ceSink struct {
	faults []sinkFault
	then   sinkFault
	sw     *killSwitch // for sinkKill
	mu     sync.Mutex
	seen   []sinkAttempt
	events []map[string]any // processed: answered 202, or processed then answered too late
	srv    *httptest.Server
}

func newCESink(tb testing.TB, then sinkFault, faults ...sinkFault) *ceSink {
	tb.Helper()
	s := &ceSink{faults: faults, then: then}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *ceSink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev map[string]any
	_ = json.Unmarshal(body, &ev)
	id, _ := ev["id"].(string)
	s.mu.Lock()
	f := s.then
	if n := len(s.seen); n < len(s.faults) {
		f = s.faults[n]
	}
	s.seen = append(s.seen, sinkAttempt{at: time.Now(), id: id, fault: f})
	if f == sinkAccept || f == sinkSlowProcessed {
		s.events = append(s.events, ev)
	}
	s.mu.Unlock()
	switch f {
	case sinkAccept:
		w.WriteHeader(http.StatusAccepted)
	case sink500:
		http.Error(w, "injected", http.StatusInternalServerError)
	case sinkSlow, sinkSlowProcessed:
		untilClientGone(r) // the client's attempt timeout ends it
		w.WriteHeader(http.StatusAccepted)
	case sinkReset:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			if tcp, ok := conn.(interface{ SetLinger(int) error }); ok {
				_ = tcp.SetLinger(0) // RST, not FIN
			}
			_ = conn.Close()
		}
	case sinkKill:
		if s.sw.fire() {
			untilClientGone(r)
		}
	}
}

func (s *ceSink) attempts() []sinkAttempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

func (s *ceSink) processed() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// remediatorJob runs the real binary as the pods of one Job do: every
// attempt with the same environment.
type remediatorJob struct {
	t   *testing.T
	bin string
	env []string
}

// jobAttempt is one pod of the Job: how it ended and what it logged.
type jobAttempt struct {
	code   int  // -1 when killed by a signal
	killed bool // by SIGKILL
	took   time.Duration
	logs   []map[string]any
	stderr string
}

// newRemediatorJob points the binary at the API server through apiURL (a
// proxy of the test) and at the sink, for the scenario's node.
func newRemediatorJob(t *testing.T, bin string, s *scenario, apiURL, sinkURL string, extra ...string) *remediatorJob {
	t.Helper()
	kc, err := cluster.KubeConfigFor(&rest.Config{Host: apiURL})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	e := []string{"REMEDIATOR_KUBECONFIG=" + kubeconfig, "REMEDIATOR_NAMESPACE=" + s.ns, "REMEDIATOR_WORKFLOW=" + s.wf.Name,
		"REMEDIATOR_NODE_ID=" + s.nodeID, "REMEDIATOR_POD_NAME=" + s.pod.Name, "REMEDIATOR_POD_UID=" + string(s.pod.UID),
		"REMEDIATOR_REASON=OOMKilled", "REMEDIATOR_VERIFY_TIMEOUT=30s", "REMEDIATOR_SINK_URL=" + sinkURL,
		"REMEDIATOR_SINK_TIMEOUT=300ms", "REMEDIATOR_SINK_RETRIES=3", "REMEDIATOR_LOG_FORMAT=json"}
	return &remediatorJob{t: t, bin: bin, env: append(e, extra...)}
}

// run starts one attempt, arms sw (may be nil) with it, and waits for its end.
func (j *remediatorJob) run(sw *killSwitch) jobAttempt {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, j.bin)
	cmd.Env = j.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		j.t.Fatal(err)
	}
	if sw != nil {
		sw.arm(cmd.Process)
	}
	_ = cmd.Wait()
	a := jobAttempt{code: cmd.ProcessState.ExitCode(), took: time.Since(began), stderr: stderr.String()}
	if ctx.Err() != nil {
		j.t.Fatalf("the remediator did not end within 2 minutes:\n%s", a.stderr)
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	a.killed = ws.Signaled() && ws.Signal() == syscall.SIGKILL
	sc := bufio.NewScanner(&stderr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil {
			a.logs = append(a.logs, line)
		}
	}
	return a
}

// logLine returns the first log line with message msg, or nil.
func (a jobAttempt) logLine(msg string) map[string]any {
	for _, l := range a.logs {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// workflowEvents lists the Kubernetes Events on the scenario's workflow as
// "Type Reason", sorted.
func workflowEvents(t *testing.T, s *scenario) []string {
	t.Helper()
	evs, err := env.Kube.CoreV1().Events(s.ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + s.wf.Name})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs.Items {
		if e.InvolvedObject.UID != s.wf.UID {
			t.Errorf("event %s on UID %s, want %s", e.Reason, e.InvolvedObject.UID, s.wf.UID)
		}
		out = append(out, e.Type+" "+e.Reason)
	}
	slices.Sort(out)
	return out
}

// remediatedEventID is the id of the CloudEvent an uninterrupted run sends
// for the scenario's node (cluster "default", not a dry run).
func remediatedEventID(s *scenario) string {
	return notify.ID("default", s.ns, s.wf.Name, string(s.wf.UID), s.nodeID, string(remediate.OutcomeRemediated), false)
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
	bin := cluster.BuildRemediator(t, t.TempDir())
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
			var s *scenario
			action, wantWrite := "complete", "PATCH 200"
			extra := []string{}
			if tt.legacy {
				// The annotation path: the executor never wrote a task
				// result, and the pod is gone.
				s = newScenario(t, wfv1.NodeError, boolp(false))
				if err := s.k.Delete(ctx, s.ns, s.pod.Name); err != nil {
					t.Fatal(err)
				}
				action, wantWrite = "create", "POST 201"
				extra = append(extra, "REMEDIATOR_GRACE_PERIOD=0s")
			} else {
				s = newScenario(t, wfv1.NodeFailed, boolp(false))
				s.initializeOutput()
				if _, err := s.k.OOMKill(ctx, s.ns, s.pod.Name, kubelet.WaitKilled); err != nil {
					t.Fatal(err)
				}
			}
			go s.standInForController(ctx)

			sw := newKillSwitch()
			proxy := newKillProxy(t, tt.proxy, sw)
			sink := newCESink(t, sinkAccept)
			if tt.sink {
				sink = newCESink(t, sinkAccept, sinkKill)
				sink.sw = sw
			}
			job := newRemediatorJob(t, bin, s, proxy.srv.URL, sink.srv.URL, extra...)

			first := job.run(sw)
			if !sw.fired.Load() || !first.killed {
				t.Fatalf("the first attempt was not killed (switch %v, exit %d):\n%s", sw.fired.Load(), first.code, first.stderr)
			}
			afterKill := proxy.writes()
			retry := job.run(nil)
			t.Logf("killed after %s; re-run exit %d in %s; task result writes %v (%v at the kill)",
				first.took.Round(time.Millisecond), retry.code, retry.took.Round(time.Millisecond), proxy.writes(), afterKill)

			if retry.code != 0 {
				t.Fatalf("re-run exit code %d, want 0:\n%s", retry.code, retry.stderr)
			}
			if got := proxy.writes(); !slices.Equal(got, []string{wantWrite}) {
				t.Errorf("task result writes over both attempts %v, want [%s]", got, wantWrite)
			}
			tr := s.taskResult()
			if tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" || tr.Annotations[remediate.AnnotationAction] != action ||
				tr.Annotations[remediate.AnnotationRemediatedAt] == "" || tr.Annotations[remediate.AnnotationRemediatedBy] == "" {
				t.Errorf("task result labels %v annotations %v", tr.Labels, tr.Annotations)
			}
			waitUntil(t, "the workflow to end", func(ctx context.Context) (bool, error) {
				wf, err := env.Argo.ArgoprojV1alpha1().Workflows(s.ns).Get(ctx, s.wf.Name, metav1.GetOptions{})
				return err == nil && wf.Status.Phase.Completed(), err
			})

			// The re-run's report: the outcome, and the id, of an
			// uninterrupted run.
			fin := retry.logLine("remediation finished")
			if fin == nil || fin["outcome"] != string(remediate.OutcomeRemediated) || fin["previously"] != tt.previously || fin["action"] != action {
				t.Errorf("re-run's final log line %v, want outcome remediated, previously %v, action %s", fin, tt.previously, action)
			}
			got := sink.processed()
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
				if a := sink.attempts(); len(a) != 2 || a[0].id != a[1].id {
					t.Errorf("sink attempts %+v: the killed run's id differs from the re-run's", a)
				}
			}
			if ev := workflowEvents(t, s); !slices.Equal(ev, tt.events) {
				t.Errorf("Kubernetes Events %v, want %v", ev, tt.events)
			}
			if l := retry.logLine("notification failed"); l != nil {
				t.Errorf("re-run logged %v", l)
			}
		})
	}
}
