package restart

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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
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
	pr := startRemediator(t, s, p.config())
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
	pr := startRemediator(t, s, p.config())
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	waitUntil(t, "the first watch request", func() bool { return len(p.requests(pr.started, isWatch)) > 0 })
	// Any write moves etcd's revision past the binary's resourceVersion, so
	// the restarted server's caches surely start after it.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "newer"}}
	if _, err := env.Kube.CoreV1().ConfigMaps(s.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
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
