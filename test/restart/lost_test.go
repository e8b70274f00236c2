package restart

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
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
	p.setIntercept(func(w http.ResponseWriter, r *http.Request, req request) bool {
		if req.verb != "patch" || req.resource != "workflowtaskresults" || !dropped.CompareAndSwap(0, 1) {
			return false
		}
		rec := httptest.NewRecorder()
		p.forward.ServeHTTP(rec, r) // committed by the API server
		if rec.Code != http.StatusOK {
			t.Errorf("the API server answered the PATCH with %d: %s", rec.Code, rec.Body)
		}
		panic(http.ErrAbortHandler) // the answer never reaches the binary
	})
	s.oomKill()
	go s.standInForController(ctx)
	checkEnd(t, s, p, pr, oomKilled)
	if dropped.Load() != 1 {
		t.Error("no PATCH was intercepted")
	}
	if line := pr.finished(); line["previously"] != false {
		t.Errorf("log: previously = %v, want false (this run's own write, found on the re-read)", line["previously"])
	}
	if n := pr.logged(msgNoAnswer); n != 1 {
		t.Errorf("%q logged %d times, want 1", msgNoAnswer, n)
	}
	t.Logf("whole run %s; requests: %s", pr.took.Round(time.Millisecond), summary(p.requests(pr.started, nil)))
}
