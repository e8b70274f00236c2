package faults

import (
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
)

// waitingNode is the state most faults strike in: a Running workflow whose
// one pod node is Failed while the pod's wait container still runs (the
// remediator's decision: wait), with the task result the executor
// initialized (label "false").
func waitingNode(t *testing.T) *support.Stuck {
	t.Helper()
	s := support.NewStuck(t, env.Cluster, wfv1.NodeFailed, fixtures.Bool(false))
	s.InitializeOutput()
	return s
}

func oomKill(s *support.Stuck)        { s.OOMKill(kubelet.WaitKilled) }
func finishNormally(s *support.Stuck) { s.FinishNormally() }

// process is the remediator binary running on a node, sending its
// CloudEvent to a sink of its own.
type process struct {
	*support.Process
	t    *testing.T
	sink *support.Sink
}

// startRemediator runs the binary on s's node, talking to the API server
// with cfg (a proxy's, or the admin's: directly).
func startRemediator(t *testing.T, s *support.Stuck, cfg *rest.Config) *process {
	t.Helper()
	sink := support.NewSink(t, support.SinkAccept)
	env := s.Env(cfg, sink.URL(), map[string]string{"REMEDIATOR_DEADLINE": "3m", "REMEDIATOR_VERIFY_TIMEOUT": "1m",
		"REMEDIATOR_LOG_LEVEL": "debug"})
	return &process{Process: support.Start(t, envBinary(), env), t: t, sink: sink}
}

// wait waits for the process to exit and returns its exit code.
func (pr *process) wait() int { return pr.Wait(2 * time.Minute).Code }

// event returns the one CloudEvent received; it fails the test otherwise.
func (pr *process) event() notify.Data { return pr.sink.One(pr.t) }

func envBinary() string { return env.Binary }

// waitUntil polls cond until it holds or a minute passes.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	support.Eventually(t, what, time.Minute, support.Holds(cond))
}
