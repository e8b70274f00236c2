package badinput

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// binary is the remediator built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "badinput-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, err = build(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles ./remediator as the image does (static, trimmed).
func build(dir string) (string, error) {
	root, err := cluster.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "remediator")
	// The flags of test/integration, so that both share the build cache.
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./remediator")
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the remediator: %w\n%s", err, out)
	}
	return bin, nil
}

// result is what one run of the binary left.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary with exactly env (plus PATH) and args.
func run(t testing.TB, env map[string]string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
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

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// kubeconfig writes a kubeconfig for cfg into dir.
func kubeconfig(t testing.TB, dir, name string, cfg *rest.Config) string {
	t.Helper()
	kc, err := cluster.KubeConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, string(kc))
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

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
