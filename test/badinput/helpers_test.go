package badinput

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

// binary is the remediator built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "badinput-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, err = support.Remediator(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the binary with exactly env (plus PATH) and args.
func run(t testing.TB, env map[string]string, args ...string) support.Result {
	t.Helper()
	return support.Run(t, binary, support.EnvList(support.Merge(env, map[string]string{"PATH": os.Getenv("PATH")})), args...)
}

// recorder is an HTTP server that records every request and answers with
// status (and body, if any).
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	status int
	body   string
}

// recorded is one request as the server saw it.
type recorded struct {
	method, path string
	header       http.Header
	body         []byte
}

func newRecorder(t testing.TB, status int, body string) *recorder {
	t.Helper()
	r := &recorder{status: status, body: body}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.Header.Clone(), b})
		status, body := r.status, r.body
		r.mu.Unlock()
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// requests returns the requests recorded so far.
func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// reset forgets the recorded requests.
func (r *recorder) reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

// set changes the answer.
func (r *recorder) set(status int, body string) {
	r.mu.Lock()
	r.status, r.body = status, body
	r.mu.Unlock()
}

// named returns the variables the problem lines of stderr start with
// ("REMEDIATOR_X: ..."), sorted.
func named(stderr string) []string {
	seen := map[string]bool{}
	for _, line := range strings.Split(stderr, "\n") {
		if name, _, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(name, "REMEDIATOR_") && !strings.ContainsAny(name, " \"{") {
			seen[name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
