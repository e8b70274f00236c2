package support

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// Request is one API request a [Proxy] saw.
type Request struct {
	At       time.Time
	Verb     string // list, watch, get, create, patch, update, delete
	Resource string // plural: workflows, workflowtaskresults, pods, events
	Status   int    // of the answer; 0: none (connection dropped) or not yet
	Done     time.Time
	Expired  bool  // the answer carried a 410 Expired Status (a watch ERROR event, or the body)
	Bytes    int64 // of the answer's body, watch streams included
}

func (r Request) String() string { return r.Verb + " " + r.Resource }

// IsTaskResultWrite tells whether r writes a WorkflowTaskResult.
func (r Request) IsTaskResultWrite() bool {
	return r.Resource == "workflowtaskresults" && (r.Verb == "create" || r.Verb == "patch" || r.Verb == "update" || r.Verb == "delete")
}

// Proxy stands between a client under test (the remediator binary, a
// clientset) and kube-apiserver, in plain HTTP on a fixed loopback port, and
// forwards with the admin credentials. It records every request with its
// answer's status and size, can go down and up again (down: connections
// closed, new ones refused, as when the server's process is gone), lets a
// test answer or alter a request itself, and fault an answer on its way back.
type Proxy struct {
	tb      testing.TB
	addr    string
	forward http.Handler

	mu        sync.Mutex
	srv       *http.Server
	seen      []Request
	mark      int // Take counts from here
	intercept func(w http.ResponseWriter, r *http.Request, req Request) bool
	respond   func(*http.Response) error
	inflight  sync.WaitGroup
}

// errAbort makes the proxy drop a connection without an answer.
var errAbort = errors.New("support: answer dropped by the test")

// NewProxy starts a proxy to the API server of admin (a cluster's admin
// config); it closes when the test ends.
func NewProxy(tb testing.TB, admin *rest.Config) *Proxy {
	tb.Helper()
	rp, err := cluster.ReverseProxy(admin)
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{tb: tb, forward: rp}
	rp.ErrorHandler = func(http.ResponseWriter, *http.Request, error) {
		// The API server went away mid-request, a watch was cut or a test
		// dropped the answer: drop the connection, as the server's own
		// going would.
		panic(http.ErrAbortHandler)
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		f := p.respond
		p.mu.Unlock()
		if f != nil {
			return f(resp)
		}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = l.Addr().String()
	p.serve(l)
	tb.Cleanup(p.Down)
	return p
}

func (p *Proxy) serve(l net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(p.handle), ReadHeaderTimeout: 10 * time.Second}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.tb.Errorf("proxy: %v", err)
		}
	}()
}

func (p *Proxy) handle(w http.ResponseWriter, r *http.Request) {
	p.inflight.Add(1)
	defer p.inflight.Done()
	req := classify(r)
	p.mu.Lock()
	i := len(p.seen)
	p.seen = append(p.seen, req)
	intercept := p.intercept
	p.mu.Unlock()
	rec := &recorder{ResponseWriter: w}
	defer func() {
		p.mu.Lock()
		p.seen[i].Status, p.seen[i].Done, p.seen[i].Expired, p.seen[i].Bytes = rec.status, time.Now(), rec.expired, rec.bytes
		p.mu.Unlock()
	}()
	if intercept != nil && intercept(rec, r, req) {
		return
	}
	p.forward.ServeHTTP(rec, r)
}

// Forward sends r on to the API server; an intercept that altered a
// request (say, a deadline on a watch) forwards it with this and returns
// true.
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request) { p.forward.ServeHTTP(w, r) }

// Intercept installs f (nil: none); f answers a request itself by
// returning true.
func (p *Proxy) Intercept(f func(w http.ResponseWriter, r *http.Request, req Request) bool) {
	p.mu.Lock()
	p.intercept = f
	p.mu.Unlock()
}

// OnResponse installs f (nil: none), shown each answer of the API server
// before the client gets it; [DropAnswer] from f drops the connection
// instead, after the API server did the request.
func (p *Proxy) OnResponse(f func(*http.Response) error) {
	p.mu.Lock()
	p.respond = f
	p.mu.Unlock()
}

// DropAnswer, returned from an [Proxy.OnResponse] function, drops the
// answer.
var DropAnswer = errAbort

// CutWatchesAfter ends every watch after life; other requests go on.
func (p *Proxy) CutWatchesAfter(life time.Duration) {
	p.Intercept(func(w http.ResponseWriter, r *http.Request, req Request) bool {
		if req.Verb != "watch" {
			return false
		}
		ctx, cancel := context.WithTimeout(r.Context(), life)
		defer cancel()
		p.Forward(w, r.WithContext(ctx))
		return true
	})
}

// recorder notes the status and size of an answer and whether it carried a
// 410 Status.
type recorder struct {
	http.ResponseWriter
	status  int
	expired bool
	bytes   int64
}

func (s *recorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *recorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if bytes.Contains(b, []byte(`"code":410`)) {
		s.expired = true
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *recorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Down closes the listener and every connection: requests fail with
// "connection refused" until [Proxy.Up].
func (p *Proxy) Down() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the same address.
func (p *Proxy) Up() {
	p.tb.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.tb.Fatalf("proxy: listening again on %s: %v", p.addr, err)
	}
	p.serve(l)
}

// URL is the proxy's address, http://127.0.0.1:port.
func (p *Proxy) URL() string { return "http://" + p.addr }

// Config is a client config that talks through the proxy.
func (p *Proxy) Config() *rest.Config { return &rest.Config{Host: p.URL()} }

// Requests returns the requests seen since since, filtered by keep (nil: all).
func (p *Proxy) Requests(since time.Time, keep func(Request) bool) []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Request
	for _, r := range p.seen {
		if !r.At.Before(since) && (keep == nil || keep(r)) {
			out = append(out, r)
		}
	}
	return out
}

// Count counts the requests with verb on resource since since.
func (p *Proxy) Count(since time.Time, verb, resource string) int {
	return len(p.Requests(since, func(r Request) bool { return r.Verb == verb && r.Resource == resource }))
}

// TaskResultWrites are the writes of WorkflowTaskResults since since.
func (p *Proxy) TaskResultWrites(since time.Time) []Request {
	return p.Requests(since, Request.IsTaskResultWrite)
}

// Counts is what a proxy served between two calls of [Proxy.Take].
type Counts struct {
	Requests int
	First    time.Time // the first request's arrival
	Bytes    int64     // answer bodies, as far as served
}

// Take returns the counts since the last Take and starts counting again.
func (p *Proxy) Take() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c Counts
	for _, r := range p.seen[p.mark:] {
		if c.Requests == 0 {
			c.First = r.At
		}
		c.Requests++
		c.Bytes += r.Bytes
	}
	p.mark = len(p.seen)
	return c
}

// Settle waits until no request is being served: once the client has
// exited its watches end as the proxy sees their connections close, and
// only then are the byte counts final. Call it only when no client is left
// to start a request.
func (p *Proxy) Settle(tb testing.TB) {
	tb.Helper()
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		tb.Fatal("the proxy still serves requests 30 s after its client ended")
	}
}

// classify names a request by verb and resource from its method and path
// (/api/v1/namespaces/NS/pods[/NAME], /apis/G/V/namespaces/NS/R[/NAME],
// /apis/G/V/R for all namespaces).
func classify(r *http.Request) Request {
	req := Request{At: time.Now()}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	named := false
	for i, part := range parts {
		if part == "namespaces" && i+2 < len(parts) {
			req.Resource = parts[i+2]
			named = i+3 < len(parts)
			break
		}
	}
	if req.Resource == "" && len(parts) >= 3 {
		req.Resource = parts[len(parts)-1] // cluster-wide list or watch
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			req.Verb = "watch"
		case named:
			req.Verb = "get"
		default:
			req.Verb = "list"
		}
	case http.MethodPost:
		req.Verb = "create"
	case http.MethodPatch:
		req.Verb = "patch"
	case http.MethodPut:
		req.Verb = "update"
	case http.MethodDelete:
		req.Verb = "delete"
	default:
		req.Verb = strings.ToLower(r.Method)
	}
	return req
}

// Summary counts requests by "verb resource", for logs.
func Summary(reqs []Request) string {
	n := map[string]int{}
	var order []string
	for _, r := range reqs {
		k := r.String()
		if r.Status != http.StatusOK {
			k += fmt.Sprintf(" (%d)", r.Status)
		}
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	var b strings.Builder
	for i, k := range order {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", n[k], k)
	}
	return b.String()
}
