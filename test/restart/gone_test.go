package restart

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// expired is the Status of a 410 "resourceVersion too old".
const expired = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (2)","reason":"Expired","code":410}`

func isExpired(r request) bool { return r.expired }

// TestWatchExpiredInjected answers the binary's first watch of the task
// result with a watch ERROR event carrying 410 Expired and closes it, and
// its second with HTTP 410 Gone. After each it must LIST again (a full
// read: workflow, task result, pod) before watching, and still finish with
// the right outcome and one write.
func TestWatchExpiredInjected(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t)
	p := newAPIProxy(t)
	var mu sync.Mutex
	var answered []time.Time
	p.setIntercept(func(w http.ResponseWriter, r *http.Request, req request) bool {
		if req.verb != "watch" || req.resource != "workflowtaskresults" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch len(answered) {
		case 0:
			w.WriteHeader(http.StatusOK)
			_, _ = fmt.Fprintf(w, `{"type":"ERROR","object":%s}`+"\n", expired)
		case 1:
			w.WriteHeader(http.StatusGone)
			_, _ = fmt.Fprintln(w, expired)
		default:
			return false
		}
		answered = append(answered, time.Now())
		return true
	})
	pr := startRemediator(t, s, p)
	injected := func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), answered...)
	}
	waitUntil(t, "both 410s answered and a watch of the task result after them", func() bool {
		at := injected()
		return len(at) == 2 && p.count(at[1], "watch", "workflowtaskresults") > 0
	})
	at := injected()
	for i, since := range at {
		until := time.Now()
		if i+1 < len(at) {
			until = at[i+1]
		}
		lists := p.requests(since, func(r request) bool { return isList(r) && r.at.Before(until) })
		if got := summary(lists); got != "1 list workflows, 1 list workflowtaskresults, 1 list pods" {
			t.Errorf("after 410 #%d: %s, want one LIST of each", i+1, got)
		}
	}
	if n := pr.logged(msgWatchFailed); n != 1 {
		t.Errorf("%d %q logged, want 1 (for the HTTP 410)", n, msgWatchFailed)
	}
	s.oomKill()
	go s.standInForController(ctx)
	checkEnd(t, s, p, pr, oomKilled)
	t.Logf("from the first 410 to watching again: %s; %d LIST, %d WATCH after the first 410; whole run %s; requests: %s",
		p.requests(at[1], isWatch)[0].at.Sub(at[0]).Round(time.Millisecond),
		len(p.requests(at[0], isList)), len(p.requests(at[0], isWatch)), pr.took.Round(time.Millisecond),
		summary(p.requests(pr.started, nil)))
}

// TestWatchExpiredForReal makes the API server itself answer 410: the
// proxy holds the binary's first watch request (resourceVersion from its
// LIST) while kube-apiserver restarts, then forwards it. The restarted
// server's watch cache starts after that resourceVersion and answers with a
// watch ERROR event "too old resource version" (410 Expired). The binary
// must LIST again and finish with the right outcome and one write.
func TestWatchExpiredForReal(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t)
	p := newAPIProxy(t)
	release := make(chan struct{})
	var once sync.Once
	p.setIntercept(func(w http.ResponseWriter, r *http.Request, req request) bool {
		if req.verb == "watch" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return false
	})
	pr := startRemediator(t, s, p)
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	waitUntil(t, "the first watch request", func() bool { return len(p.requests(pr.started, isWatch)) > 0 })
	if err := env.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	once.Do(func() { close(release) })
	// The read after the 410: LISTs ending with the pod's, then three watches.
	var gone []request
	var podList request
	waitUntil(t, "a watch answered 410, then a new read and three watches", func() bool {
		if gone = p.requests(restarted, isExpired); len(gone) == 0 {
			return false
		}
		lists := p.requests(gone[0].done, func(r request) bool { return isList(r) && r.resource == "pods" })
		if len(lists) == 0 {
			return false
		}
		podList = lists[0]
		return len(p.requests(podList.at, isWatch)) >= 3
	})
	reread := p.requests(gone[0].done, func(r request) bool { return isList(r) && !r.at.After(podList.at) })
	if got := summary(reread); got != "1 list workflows, 1 list workflowtaskresults, 1 list pods" {
		t.Errorf("after the 410: %s, want one LIST of each object", got)
	}
	s.oomKill()
	go s.standInForController(ctx)
	checkEnd(t, s, p, pr, oomKilled)
	t.Logf("%d watches answered 410 by the restarted API server; from the restart to watching again: %s; whole run %s; requests: %s",
		len(gone), p.requests(podList.at, isWatch)[0].at.Sub(restarted).Round(time.Millisecond), pr.took.Round(time.Millisecond),
		summary(p.requests(pr.started, nil)))
}
