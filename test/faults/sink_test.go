package faults

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sinkTimeout is each delivery's timeout. Long enough that a scheduler
// stall on a loaded machine never turns an accepted delivery into a timed
// out one (an extra attempt would break the exact counts below); the slow
// faults cost it once per attempt.
const sinkTimeout = 2 * time.Second

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
// sink that misbehaves (REMEDIATOR_SINK_TIMEOUT=sinkTimeout, _SINK_RETRIES=3,
// the default first backoff of 500 ms). Whatever the sink does, the task result
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
	const retries = 3
	tests := []struct {
		name   string
		faults []support.SinkFault
		then   support.SinkFault
		closed bool   // the sink's address refuses connections
		failed string // in the delivery error when not delivered
	}{
		{name: "refused", closed: true, failed: "connection refused"},
		{name: "500 always", then: support.Sink500, failed: "500"},
		{name: "slow always", then: support.SinkSlow, failed: "Client.Timeout exceeded"},
		{name: "flapping then back", faults: []support.SinkFault{support.SinkReset, support.Sink500, support.SinkSlow}, then: support.SinkAccept},
		{name: "slow but processed, then back", faults: []support.SinkFault{support.SinkSlowProcessed}, then: support.SinkAccept},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := waitingNode(t)
			s.OOMKill(kubelet.WaitKilled)
			go s.StandInForController(ctx, 2*time.Minute)
			proxy := support.NewProxy(t, env.Config)
			writes := killAt(proxy, killNowhere, nil)
			sink := support.NewSink(t, tt.then, tt.faults...)
			job := jobEnv(s, proxy, sink, nil)
			if tt.closed {
				job = jobEnv(s, proxy, sink, map[string]string{"REMEDIATOR_SINK_URL": "http://" + closedAddress(t)})
			}
			delivered := tt.failed == ""

			a := runAttempt(t, job, nil)

			attempts := sink.Attempts()
			var gaps []time.Duration
			for i := 1; i < len(attempts); i++ {
				gaps = append(gaps, attempts[i].At.Sub(attempts[i-1].At).Round(time.Millisecond))
			}
			t.Logf("exit %d in %s; %d attempts at the sink %v, gaps %v", a.Code, a.Took.Round(time.Millisecond),
				len(attempts), faultsOf(attempts), gaps)

			// The remediation is unaffected.
			if got := writes(); !slices.Equal(got, []string{"PATCH 200"}) {
				t.Errorf("task result writes %v, want one PATCH", got)
			}
			if tr := s.TaskResult(); tr.Labels[common.LabelKeyReportOutputsCompleted] != "true" || tr.Annotations[remediate.AnnotationRemediatedAt] == "" {
				t.Errorf("task result labels %v annotations %v", tr.Labels, tr.Annotations)
			}
			if wf, err := env.Argo.ArgoprojV1alpha1().Workflows(s.NS).Get(ctx, s.WF.Name, metav1.GetOptions{}); err != nil || !wf.Status.Phase.Completed() {
				t.Errorf("workflow not ended: %v", err)
			}
			if fin := a.Line("remediation finished"); fin == nil || fin["outcome"] != string(remediate.OutcomeRemediated) {
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
				if at.ID != remediatedEventID(s) {
					t.Errorf("attempt %+v carries id %q, want %s", at, at.ID, remediatedEventID(s))
				}
			}

			notified := a.Line("notification failed")
			events := s.Events()
			if delivered {
				acked := countFaults(attempts, support.SinkAccept)
				if a.Code != 0 || notified != nil || acked != 1 {
					t.Errorf("exit %d, %d acknowledged deliveries, failure logged %v; want 0, 1, none:\n%s", a.Code, acked, notified, a.Stderr)
				}
				if !slices.Equal(events, []string{"Normal TaskResultComplete"}) {
					t.Errorf("Kubernetes Events %v", events)
				}
				// A sink that processes an attempt and answers after the
				// client gave up gets that event again on the retry: one
				// duplicate per such attempt (1 in the slow-but-processed
				// mode), under the same id, so the consumer drops it by id.
				processed := sink.Processed()
				ids := map[string]int{}
				for _, ev := range processed {
					id, _ := ev["id"].(string)
					ids[id]++
				}
				dups := len(processed) - len(ids)
				t.Logf("sink processed %d events, %d distinct ids: %d duplicate(s) to drop by id", len(processed), len(ids), dups)
				if len(ids) != 1 || ids[remediatedEventID(s)] == 0 || dups != countFaults(attempts, support.SinkSlowProcessed) {
					t.Errorf("processed ids %v; want only %s, one duplicate per abandoned but processed attempt", ids, remediatedEventID(s))
				}
				return
			}
			if a.Code != 3 {
				t.Errorf("exit code %d, want 3 (notification failed):\n%s", a.Code, a.Stderr)
			}
			errText, _ := notified["error"].(string)
			if notified == nil || notified["outcome"] != string(remediate.OutcomeRemediated) || !strings.Contains(errText, tt.failed) ||
				!strings.HasSuffix(errText, "(3x)") || !strings.Contains(errText, remediatedEventID(s)) {
				t.Errorf("notification failure log line %v; want outcome remediated, %q after 3 retries", notified, tt.failed)
			}
			if !slices.Equal(events, []string{"Normal TaskResultComplete", "Warning NotificationFailed"}) {
				t.Errorf("Kubernetes Events %v", events)
			}
			evs, err := env.Kube.CoreV1().Events(s.NS).List(ctx, metav1.ListOptions{FieldSelector: "reason=NotificationFailed"})
			if err != nil || len(evs.Items) != 1 || !strings.Contains(evs.Items[0].Message, "outcome remediated") {
				t.Errorf("NotificationFailed event %+v (%v)", evs, err)
			}
		})
	}
}

func faultsOf(attempts []support.SinkAttempt) []string {
	var out []string
	for _, a := range attempts {
		out = append(out, a.Fault.String())
	}
	return out
}

func countFaults(attempts []support.SinkAttempt, f support.SinkFault) int {
	n := 0
	for _, a := range attempts {
		if a.Fault == f {
			n++
		}
	}
	return n
}
