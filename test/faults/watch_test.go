package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// expired is the Status of a 410 "resourceVersion too old".
const expired = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (2)","reason":"Expired","code":410}`

func isExpired(r support.Request) bool { return r.Expired }

// TestWatchExpiredInjected answers the binary's first watch of the task
// result with a watch ERROR event carrying 410 Expired and closes it, and
// its second with HTTP 410 Gone. After each it must LIST again (a full
// read: workflow, task result, pod) before watching, and still finish with
// the right outcome and one write.
func TestWatchExpiredInjected(t *testing.T) {
	ctx := context.Background()
	s := waitingNode(t)
	p := support.NewProxy(t, env.Config)
	var mu sync.Mutex
	var answered []time.Time
	p.Intercept(func(w http.ResponseWriter, r *http.Request, req support.Request) bool {
		if req.Verb != "watch" || req.Resource != "workflowtaskresults" {
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
	pr := startRemediator(t, s, p.Config())
	injected := func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), answered...)
	}
	waitUntil(t, "both 410s answered and a watch of the task result after them", func() bool {
		at := injected()
		return len(at) == 2 && p.Count(at[1], "watch", "workflowtaskresults") > 0
	})
	at := injected()
	for i, since := range at {
		until := time.Now()
		if i+1 < len(at) {
			until = at[i+1]
		}
		lists := p.Requests(since, func(r support.Request) bool { return isList(r) && r.At.Before(until) })
		if got := support.Summary(lists); got != "1 list workflows, 1 list workflowtaskresults, 1 list pods" {
			t.Errorf("after 410 #%d: %s, want one LIST of each", i+1, got)
		}
	}
	if n := pr.Logged(msgWatchFailed); n != 1 {
		t.Errorf("%d %q logged, want 1 (for the HTTP 410)", n, msgWatchFailed)
	}
	oomKill(s)
	go s.StandInForController(ctx, 2*time.Minute)
	checkEnd(t, s, p, pr, oomKilled)
	t.Logf("from the first 410 to watching again: %s; %d LIST, %d WATCH after the first 410; whole run %s; requests: %s",
		p.Requests(at[1], isWatch)[0].At.Sub(at[0]).Round(time.Millisecond),
		len(p.Requests(at[0], isList)), len(p.Requests(at[0], isWatch)), pr.Took().Round(time.Millisecond),
		support.Summary(p.Requests(pr.Started(), nil)))
}

// TestWatchExpiredForReal makes the API server itself answer 410: the
// proxy holds the binary's first watch request (resourceVersion from its
// LIST) while kube-apiserver restarts, then forwards it. The restarted
// server's watch cache starts after that resourceVersion and answers with a
// watch ERROR event "too old resource version" (410 Expired). The binary
// must LIST again and finish with the right outcome and one write.
func TestWatchExpiredForReal(t *testing.T) {
	ctx := context.Background()
	s := waitingNode(t)
	p := support.NewProxy(t, env.Config)
	release := make(chan struct{})
	var once sync.Once
	p.Intercept(func(w http.ResponseWriter, r *http.Request, req support.Request) bool {
		if req.Verb == "watch" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return false
	})
	pr := startRemediator(t, s, p.Config())
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	waitUntil(t, "the first watch request", func() bool { return len(p.Requests(pr.Started(), isWatch)) > 0 })
	// Any write moves etcd's revision past the binary's resourceVersion, so
	// the restarted server's caches surely start after it.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "newer"}}
	if _, err := env.Kube.CoreV1().ConfigMaps(s.NS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	once.Do(func() { close(release) })
	// The read after the 410: LISTs ending with the pod's, then three watches.
	var gone []support.Request
	var podList support.Request
	waitUntil(t, "a watch answered 410, then a new read and three watches", func() bool {
		if gone = p.Requests(restarted, isExpired); len(gone) == 0 {
			return false
		}
		lists := p.Requests(gone[0].Done, func(r support.Request) bool { return isList(r) && r.Resource == "pods" })
		if len(lists) == 0 {
			return false
		}
		podList = lists[0]
		return len(p.Requests(podList.At, isWatch)) >= 3
	})
	reread := p.Requests(gone[0].Done, func(r support.Request) bool { return isList(r) && !r.At.After(podList.At) })
	if got := support.Summary(reread); got != "1 list workflows, 1 list workflowtaskresults, 1 list pods" {
		t.Errorf("after the 410: %s, want one LIST of each object", got)
	}
	oomKill(s)
	go s.StandInForController(ctx, 2*time.Minute)
	checkEnd(t, s, p, pr, oomKilled)
	t.Logf("%d watches answered 410 by the restarted API server; from the restart to watching again: %s; whole run %s; requests: %s",
		len(gone), p.Requests(podList.At, isWatch)[0].At.Sub(restarted).Round(time.Millisecond), pr.Took().Round(time.Millisecond),
		support.Summary(p.Requests(pr.Started(), nil)))
}

// TestEtcdCompactionHiddenByWatchCache answers whether compacting etcd
// yields a real 410 for a client like the remediator: it does not. After a
// compaction past a resourceVersion, a watch from it is still served, from
// kube-apiserver's watch cache, with the events since. (A real 410 needs a
// resourceVersion older than the watch cache, as after a restart: see
// TestWatchExpiredForReal.) etcd is compacted through its JSON gateway.
func TestEtcdCompactionHiddenByWatchCache(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t)
	cms := env.Kube.CoreV1().ConfigMaps(ns)
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("cm-", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var head struct {
		Header struct{ Revision string } `json:"header"`
	}
	etcdCall(t, "/v3/kv/range", `{"key":"AA=="}`, &head) // any key: the header carries the revision
	etcdCall(t, "/v3/kv/compaction", fmt.Sprintf(`{"revision":%q,"physical":true}`, head.Header.Revision), nil)

	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("watching from resourceVersion %s, compacted at %s: %v", list.ResourceVersion, head.Header.Revision, err)
	}
	defer w.Stop()
	for i := range 3 {
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Added {
				t.Fatalf("event %d from resourceVersion %s, compacted at %s: %s %v", i, list.ResourceVersion, head.Header.Revision, ev.Type, ev.Object)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event %d within 10s", i)
		}
	}
	t.Logf("etcd compacted at revision %s; a watch from resourceVersion %s still got the 3 ADDED events", head.Header.Revision, list.ResourceVersion)
}

// etcdCall POSTs body to etcd's JSON gateway and decodes the answer into out.
func etcdCall(t *testing.T, path, body string, out any) {
	t.Helper()
	resp, err := http.Post(env.EtcdURL()+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("etcd %s: %d %s", path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("etcd %s: %v in %s", path, err, data)
		}
	}
}

// TestWatchesCutAgainAndAgain cuts every watch after 300 ms: the
// remediator watches again each time and still rescues the node once the
// pod ends.
func TestWatchesCutAgainAndAgain(t *testing.T) {
	s := waitingNode(t)
	ctx := context.Background()
	p := support.NewProxy(t, env.Config)
	p.CutWatchesAfter(300 * time.Millisecond)
	began := time.Now()
	done := support.Go(support.InProcess(t, p.Config(), remediate.Options{Grace: time.Second}), s.Target())
	// Let the watches be cut a few times before anything changes.
	waitUntil(t, "several cut watches", func() bool { return len(p.Requests(began, isWatch)) >= 9 })
	s.OOMKill(kubelet.WaitKilled)
	go s.StandInForController(ctx, 2*time.Minute)
	r := support.Finish(t, done)
	if r.Err != nil || r.Res.Outcome != remediate.OutcomeRemediated || r.Res.Reason != decide.ReasonWaitTerminated {
		t.Fatalf("got %s (%s), %v", r.Res.Outcome, r.Res.Reason, r.Err)
	}
}
