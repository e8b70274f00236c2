package integration

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/cluster"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// closedAddress returns a loopback address nothing listens on: connecting
// is refused.
func closedAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestSinkFaultsOnTheRealBinary runs the real binary against a CloudEvents
// sink that misbehaves (REMEDIATOR_SINK_TIMEOUT=300ms, _SINK_RETRIES=3, the
// default first backoff of 500 ms). Whatever the sink does, the task result
// is written once and the workflow ends; the exit code, the final log line
// and the Kubernetes Events say whether the event was delivered; attempts
// are at most 1+3, each waiting at least as long as the one before, all
// carrying the same event id; a sink that comes back within the retries
// acknowledges that id exactly once.
//
// Connection refused cannot be flipped observably (a refused connection
// never reaches the sink, so the sink cannot know when to come back): it is
// its own mode, its attempts counted from the client's own error ("(3x)":
// three retries). The flapping mode resets the connection instead.
func TestSinkFaultsOnTheRealBinary(t *testing.T) {
	bin := cluster.BuildRemediator(t, t.TempDir())
	const retries = 3
	tests := []struct {
		name   string
		faults []sinkFault
		then   sinkFault
		closed bool   // the sink's address refuses connections
		failed string // in the delivery error when not delivered
	}{
		{name: "refused", closed: true, failed: "connection refused"},
		{name: "500 always", then: sink500, failed: "500"},
		{name: "slow always", then: sinkSlow, failed: "Client.Timeout exceeded"},
		{name: "flapping then back", faults: []sinkFault{sinkReset, sink500, sinkSlow}, then: sinkAccept},
		{name: "slow but processed, then back", faults: []sinkFault{sinkSlowProcessed}, then: sinkAccept},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := newScenario(t, wfv1.NodeFailed, boolp(false))
			s.initializeOutput()
			if _, err := s.k.OOMKill(ctx, s.ns, s.pod.Name, kubelet.WaitKilled); err != nil {
				t.Fatal(err)
			}
			go s.standInForController(ctx)
			proxy := newKillProxy(t, killNowhere, nil)
			sink := newCESink(t, tt.then, tt.faults...)
			url := sink.srv.URL
			if tt.closed {
				url = "http://" + closedAddress(t)
			}
			delivered := tt.failed == ""

			a := newRemediatorJob(t, bin, s, proxy.srv.URL, url).run(nil)

			attempts := sink.attempts()
			var gaps []time.Duration
			for i := 1; i < len(attempts); i++ {
				gaps = append(gaps, attempts[i].at.Sub(attempts[i-1].at).Round(time.Millisecond))
			}
			t.Logf("exit %d in %s; %d attempts at the sink %v, gaps %v", a.code, a.took.Round(time.Millisecond),
				len(attempts), faultsOf(attempts), gaps)

			// The remediation is unaffected.
			if got := proxy.writes(); !slices.Equal(got, []string{"PATCH 200"}) {
				t.Errorf("task result writes %v, want one PATCH", got)
			}
			if tr := s.taskResult(); tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" || tr.Annotations[remediate.AnnotationRemediatedAt] == "" {
				t.Errorf("task result labels %v annotations %v", tr.Labels, tr.Annotations)
			}
			if wf, err := env.Argo.ArgoprojV1alpha1().Workflows(s.ns).Get(ctx, s.wf.Name, metav1.GetOptions{}); err != nil || !wf.Status.Phase.Completed() {
				t.Errorf("workflow not ended: %v", err)
			}
			if fin := a.logLine("remediation finished"); fin == nil || fin["outcome"] != string(remediate.OutcomeRemediated) {
				t.Errorf("final log line %v", fin)
			}

			// Bounded retries with growing gaps, one id.
			if len(attempts) > 1+retries {
				t.Errorf("%d attempts, at most %d allowed", len(attempts), 1+retries)
			}
			if !tt.closed && !delivered && len(attempts) != 1+retries {
				t.Errorf("%d attempts before giving up, want %d", len(attempts), 1+retries)
			}
			for i := 1; i < len(gaps); i++ {
				if gaps[i] < gaps[i-1]-100*time.Millisecond {
					t.Errorf("gap %d (%s) shorter than the one before (%s): %v", i, gaps[i], gaps[i-1], gaps)
				}
			}
			for _, at := range attempts {
				if at.id != remediatedEventID(s) {
					t.Errorf("attempt %+v carries id %q, want %s", at, at.id, remediatedEventID(s))
				}
			}

			notified := a.logLine("notification failed")
			events := workflowEvents(t, s)
			if delivered {
				acked := countFaults(attempts, sinkAccept)
				if a.code != 0 || notified != nil || acked != 1 {
					t.Errorf("exit %d, %d acknowledged deliveries, failure logged %v; want 0, 1, none:\n%s", a.code, acked, notified, a.stderr)
				}
				if !slices.Equal(events, []string{"Normal TaskResultComplete"}) {
					t.Errorf("Kubernetes Events %v", events)
				}
				// A sink that processes an attempt and answers after the
				// client gave up gets that event again on the retry: one
				// duplicate per such attempt (1 in the slow-but-processed
				// mode), under the same id, so the consumer drops it by id.
				processed := sink.processed()
				ids := map[string]int{}
				for _, ev := range processed {
					id, _ := ev["id"].(string)
					ids[id]++
				}
				dups := len(processed) - len(ids)
				t.Logf("sink processed %d events, %d distinct ids: %d duplicate(s) to drop by id", len(processed), len(ids), dups)
				if len(ids) != 1 || ids[remediatedEventID(s)] == 0 || dups != countFaults(attempts, sinkSlowProcessed) {
					t.Errorf("processed ids %v; want only %s, one duplicate per abandoned but processed attempt", ids, remediatedEventID(s))
				}
				return
			}
			if a.code != 3 {
				t.Errorf("exit code %d, want 3 (notification failed):\n%s", a.code, a.stderr)
			}
			errText, _ := notified["error"].(string)
			if notified == nil || notified["outcome"] != string(remediate.OutcomeRemediated) || !strings.Contains(errText, tt.failed) ||
				!strings.HasSuffix(errText, "(3x)") || !strings.Contains(errText, remediatedEventID(s)) {
				t.Errorf("notification failure log line %v; want outcome remediated, %q after 3 retries", notified, tt.failed)
			}
			if !slices.Equal(events, []string{"Normal TaskResultComplete", "Warning NotificationFailed"}) {
				t.Errorf("Kubernetes Events %v", events)
			}
			evs, err := env.Kube.CoreV1().Events(s.ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=NotificationFailed"})
			if err != nil || len(evs.Items) != 1 || !strings.Contains(evs.Items[0].Message, "outcome remediated") {
				t.Errorf("NotificationFailed event %+v (%v)", evs, err)
			}
		})
	}
}

func faultsOf(attempts []sinkAttempt) []string {
	var out []string
	for _, a := range attempts {
		out = append(out, a.fault.String())
	}
	return out
}

func countFaults(attempts []sinkAttempt, f sinkFault) int {
	n := 0
	for _, a := range attempts {
		if a.fault == f {
			n++
		}
	}
	return n
}
