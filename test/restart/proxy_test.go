package restart

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/cluster"
	"k8s.io/client-go/rest"
)

// request is one API request the proxy saw.
type request struct {
	at       time.Time
	verb     string // list, watch, get, create, patch, update, delete
	resource string // plural: workflows, workflowtaskresults, pods, events
	status   int    // of the answer; 0: none (connection dropped) or not yet
	done     time.Time
	expired  bool // the answer carried a 410 Expired Status (a watch ERROR event, or the body)
}

func (r request) String() string { return r.verb + " " + r.resource }

// apiProxy stands between the remediator binary and kube-apiserver on a
// fixed loopback port, in plain HTTP, and forwards with the admin
// credentials. It records every request, can go down and up again with the
// API server (down: connections closed, new ones refused, as when the
// server's process is gone), and lets a test answer a request itself.
type apiProxy struct {
	tb      testing.TB
	addr    string
	forward http.Handler

	mu        sync.Mutex
	srv       *http.Server
	seen      []request
	intercept func(w http.ResponseWriter, r *http.Request, req request) bool
}

func newAPIProxy(tb testing.TB) *apiProxy {
	tb.Helper()
	rp, err := cluster.ReverseProxy(env.Config)
	if err != nil {
		tb.Fatal(err)
	}
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		// The API server went away mid-request: drop the connection, as the
		// server's own going would.
		panic(http.ErrAbortHandler)
	}
	p := &apiProxy{tb: tb, forward: rp}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = l.Addr().String()
	p.serve(l)
	tb.Cleanup(p.down)
	return p
}

func (p *apiProxy) serve(l net.Listener) {
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

func (p *apiProxy) handle(w http.ResponseWriter, r *http.Request) {
	req := classify(r)
	p.mu.Lock()
	i := len(p.seen)
	p.seen = append(p.seen, req)
	intercept := p.intercept
	p.mu.Unlock()
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		p.mu.Lock()
		p.seen[i].status, p.seen[i].done, p.seen[i].expired = rec.status, time.Now(), rec.expired
		p.mu.Unlock()
	}()
	if intercept != nil && intercept(rec, r, req) {
		return
	}
	p.forward.ServeHTTP(rec, r)
}

// statusRecorder notes the status of an answer and whether it carried a
// 410 Status.
type statusRecorder struct {
	http.ResponseWriter
	status  int
	expired bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if bytes.Contains(b, []byte(`"code":410`)) {
		s.expired = true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// down closes the listener and every connection: the binary's requests fail
// with "connection refused" until up.
func (p *apiProxy) down() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// up listens again on the same address.
func (p *apiProxy) up() {
	p.tb.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.tb.Fatalf("proxy: listening again on %s: %v", p.addr, err)
	}
	p.serve(l)
}

func (p *apiProxy) config() *rest.Config { return &rest.Config{Host: "http://" + p.addr} }

// setIntercept installs f; f answers a request itself by returning true.
func (p *apiProxy) setIntercept(f func(w http.ResponseWriter, r *http.Request, req request) bool) {
	p.mu.Lock()
	p.intercept = f
	p.mu.Unlock()
}

// requests returns the requests seen since since, filtered by keep (nil: all).
func (p *apiProxy) requests(since time.Time, keep func(request) bool) []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []request
	for _, r := range p.seen {
		if !r.at.Before(since) && (keep == nil || keep(r)) {
			out = append(out, r)
		}
	}
	return out
}

// count counts the requests with verb on resource since since.
func (p *apiProxy) count(since time.Time, verb, resource string) int {
	return len(p.requests(since, func(r request) bool { return r.verb == verb && r.resource == resource }))
}

// taskResultWrites are the writes of WorkflowTaskResults since since.
func (p *apiProxy) taskResultWrites(since time.Time) []request {
	return p.requests(since, func(r request) bool {
		return r.resource == "workflowtaskresults" && (r.verb == "create" || r.verb == "patch" || r.verb == "update" || r.verb == "delete")
	})
}

// classify names a request by verb and resource from its method and path
// (/api/v1/namespaces/NS/pods[/NAME], /apis/G/V/namespaces/NS/R[/NAME]).
func classify(r *http.Request) request {
	req := request{at: time.Now()}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	named := false
	for i, part := range parts {
		if part == "namespaces" && i+2 < len(parts) {
			req.resource = parts[i+2]
			named = i+3 < len(parts)
			break
		}
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			req.verb = "watch"
		case named:
			req.verb = "get"
		default:
			req.verb = "list"
		}
	case http.MethodPost:
		req.verb = "create"
	case http.MethodPatch:
		req.verb = "patch"
	case http.MethodPut:
		req.verb = "update"
	case http.MethodDelete:
		req.verb = "delete"
	default:
		req.verb = strings.ToLower(r.Method)
	}
	return req
}

// summary counts requests by "verb resource", for logs.
func summary(reqs []request) string {
	n := map[string]int{}
	var order []string
	for _, r := range reqs {
		k := r.String()
		if r.status != http.StatusOK {
			k += fmt.Sprintf(" (%d)", r.status)
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
