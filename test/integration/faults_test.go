package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	"k8s.io/client-go/rest"
)

// faultyProxy forwards to the API server and injects faults: every watch
// is cut after watchLife, and the first failPatches PATCHes of a task
// result are answered with the given status.
type faultyProxy struct {
	watchLife   time.Duration
	failPatches atomic.Int32
	failStatus  int
	watches     atomic.Int32
	srv         *httptest.Server
}

func newFaultyProxy(tb testing.TB, watchLife time.Duration, failPatches int, failStatus int) *faultyProxy {
	tb.Helper()
	rp, err := cluster.ReverseProxy(env.Config)
	if err != nil {
		tb.Fatal(err)
	}
	p := &faultyProxy{watchLife: watchLife, failStatus: failStatus}
	p.failPatches.Store(int32(failPatches))
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {} // a cut watch is not an error here
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/workflowtaskresults/") && p.failPatches.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(p.failStatus)
			_, _ = fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected","code":%d}`, p.failStatus)
			return
		}
		if r.URL.Query().Get("watch") == "true" {
			p.watches.Add(1)
		}
		if r.URL.Query().Get("watch") == "true" && p.watchLife > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), p.watchLife)
			defer cancel()
			r = r.WithContext(ctx)
		}
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(p.srv.Close)
	return p
}

func (p *faultyProxy) config() *rest.Config { return &rest.Config{Host: p.srv.URL} }

func TestWatchesCutAgainAndAgain(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, boolp(false))
	s.initializeOutput()
	ctx := context.Background()
	p := newFaultyProxy(t, 300*time.Millisecond, 0, 0)
	done := start(remediator(t, p.config(), remediate.Options{Grace: time.Second}), s.target())
	// Let the watches be cut a few times before anything changes.
	waitUntil(t, "several cut watches", func(context.Context) (bool, error) { return p.watches.Load() >= 9, nil })
	if _, err := s.k.OOMKill(ctx, s.ns, s.pod.Name, kubelet.WaitKilled); err != nil {
		t.Fatal(err)
	}
	go s.standInForController(ctx)
	r := finish(t, done)
	if r.err != nil || r.res.Outcome != remediate.OutcomeRemediated || r.res.Reason != decide.ReasonWaitTerminated {
		t.Fatalf("got %s (%s), %v", r.res.Outcome, r.res.Reason, r.err)
	}
}

func TestThrottledAndFailingPatchesAreRetried(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			s := newScenario(t, wfv1.NodeFailed, boolp(false))
			s.initializeOutput()
			ctx := context.Background()
			if _, err := s.k.OOMKill(ctx, s.ns, s.pod.Name, kubelet.WaitKilled); err != nil {
				t.Fatal(err)
			}
			p := newFaultyProxy(t, 0, 2, status)
			done := start(remediator(t, p.config(), remediate.Options{}), s.target())
			go s.standInForController(ctx)
			r := finish(t, done)
			if r.err != nil || r.res.Outcome != remediate.OutcomeRemediated {
				t.Fatalf("got %s, %v", r.res.Outcome, r.err)
			}
			if left := p.failPatches.Load(); left >= 0 {
				t.Errorf("only %d injected failures consumed", 2-left)
			}
		})
	}
}

// TestSIGTERMStopsAtOnce sends SIGTERM to the real binary while it waits:
// it must exit within two seconds, non-zero (the Job retries), having
// written nothing.
func TestSIGTERMStopsAtOnce(t *testing.T) {
	s := newScenario(t, wfv1.NodeFailed, boolp(false))
	s.initializeOutput()
	dir := t.TempDir()
	bin := cluster.BuildRemediator(t, dir)
	watching := newFaultyProxy(t, 0, 0, 0)
	kc, err := cluster.KubeConfigFor(watching.config())
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"REMEDIATOR_KUBECONFIG=" + kubeconfig, "REMEDIATOR_NAMESPACE=" + s.ns, "REMEDIATOR_WORKFLOW=" + s.wf.Name,
		"REMEDIATOR_NODE_ID=" + s.nodeID, "REMEDIATOR_POD_NAME=" + s.pod.Name, "REMEDIATOR_REASON=OOMKilled"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // should the test fail before the signal
	waitUntil(t, "the remediator to wait on its watches", func(context.Context) (bool, error) { return watching.watches.Load() >= 3, nil })
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	took := time.Since(sent)
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d (%v), want 1 so the Job retries", code, err)
	}
	if took > 2*time.Second {
		t.Errorf("took %s to stop after SIGTERM", took)
	}
	tr := s.taskResult()
	if tr.Labels[common.LabelKeyReportOutputsCompleted] != "false" || tr.Annotations[remediate.AnnotationRemediatedAt] != "" {
		t.Errorf("written after SIGTERM: %v %v", tr.Labels, tr.Annotations)
	}
}
