package faults

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
)

// failPatches answers the first n PATCHes of a task result through p with
// status (and Retry-After: 0), and returns how many are left to fail.
func failPatches(p *support.Proxy, n int, status int) *atomic.Int32 {
	left := &atomic.Int32{}
	left.Store(int32(n))
	p.Intercept(func(w http.ResponseWriter, r *http.Request, req support.Request) bool {
		if req.Verb != "patch" || req.Resource != "workflowtaskresults" || left.Add(-1) < 0 {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected","code":%d}`, status)
		return true
	})
	return left
}

// TestThrottledAndFailingPatchesAreRetried answers the first two writes
// with 429, 500 or 503: the remediator retries and completes the task
// result.
func TestThrottledAndFailingPatchesAreRetried(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			s := support.NewStuck(t, env.Cluster, wfv1.NodeFailed, fixtures.Bool(false))
			s.InitializeOutput()
			ctx := context.Background()
			s.OOMKill(kubelet.WaitKilled)
			p := support.NewProxy(t, env.Config)
			left := failPatches(p, 2, status)
			done := support.Go(support.InProcess(t, p.Config(), remediate.Options{}), s.Target())
			go s.StandInForController(ctx, 2*time.Minute)
			r := support.Finish(t, done)
			if r.Err != nil || r.Res.Outcome != remediate.OutcomeRemediated {
				t.Fatalf("got %s, %v", r.Res.Outcome, r.Err)
			}
			if l := left.Load(); l >= 0 {
				t.Errorf("only %d injected failures consumed", 2-l)
			}
		})
	}
}
