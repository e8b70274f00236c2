package faults

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

const msgNoAnswer = "the write got no answer; reading again to see whether it was applied"

// TestWriteAnswerLost lets the binary's PATCH of the task result reach the
// API server and be committed, then drops the connection before the answer
// gets back, as when kube-apiserver dies right after the write. The binary
// cannot know whether its write landed; it must not fail the run nor write
// again, but read again and find its own write.
func TestWriteAnswerLost(t *testing.T) {
	ctx := context.Background()
	s, p, pr := waitingRemediator(t)
	var dropped atomic.Int32
	p.Intercept(func(w http.ResponseWriter, r *http.Request, req support.Request) bool {
		if req.Verb != "patch" || req.Resource != "workflowtaskresults" || !dropped.CompareAndSwap(0, 1) {
			return false
		}
		rec := httptest.NewRecorder()
		p.Forward(rec, r) // committed by the API server
		if rec.Code != http.StatusOK {
			t.Errorf("the API server answered the PATCH with %d: %s", rec.Code, rec.Body)
		}
		panic(http.ErrAbortHandler) // the answer never reaches the binary
	})
	oomKill(s)
	go s.StandInForController(ctx, 2*time.Minute)
	checkEnd(t, s, p, pr, oomKilled)
	if dropped.Load() != 1 {
		t.Error("no PATCH was intercepted")
	}
	if line := pr.Finished(); line["previously"] != false {
		t.Errorf("log: previously = %v, want false (this run's own write, found on the re-read)", line["previously"])
	}
	if n := pr.Logged(msgNoAnswer); n != 1 {
		t.Errorf("%q logged %d times, want 1", msgNoAnswer, n)
	}
	t.Logf("whole run %s; requests: %s", pr.Took().Round(time.Millisecond), support.Summary(p.Requests(pr.Started(), nil)))
}
