package support

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is the remediator binary (or any command) running as a Job's pod
// runs it: exactly the environment given, stdout and stderr kept.
type Process struct {
	tb      testing.TB
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	took    time.Duration

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// Start starts bin with env (NAME=value, nothing inherited) and args. The
// process is killed if it still runs when the test ends; its stderr is
// logged if the test failed.
func Start(tb testing.TB, bin string, env []string, args ...string) *Process {
	tb.Helper()
	p := &Process{tb: tb, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout = &locked{mu: &p.mu, w: &p.stdout}
	p.cmd.Stderr = &locked{mu: &p.mu, w: &p.stderr}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.took = time.Since(p.started)
		close(p.done)
	}()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Kill() // should the test fail before the end
		<-p.done
		if tb.Failed() {
			tb.Logf("%s log:\n%s", bin, p.Log())
		}
	})
	return p
}

// OS is the running process, to signal it.
func (p *Process) OS() *os.Process { return p.cmd.Process }

// Running tells whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Wait waits at most within for the process to exit and returns how it
// ended; it fails the test if it still runs then.
func (p *Process) Wait(within time.Duration) Result {
	p.tb.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		p.tb.Fatalf("%s still runs after %s:\n%s", p.cmd.Path, within, p.Log())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := Result{Code: p.cmd.ProcessState.ExitCode(), Took: p.took, Stdout: p.stdout.String(), Stderr: p.stderr.String()}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		r.Killed = ws.Signaled() && ws.Signal() == syscall.SIGKILL
	}
	r.Logs = JSONLines(r.Stderr)
	return r
}

// Log is what the process wrote to stderr so far.
func (p *Process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Logged counts the JSON log lines so far whose msg is msg.
func (p *Process) Logged(msg string) int { return count(JSONLines(p.Log()), msg) }

// Run runs bin to its end (at most two minutes) with env and args.
func Run(tb testing.TB, bin string, env []string, args ...string) Result {
	tb.Helper()
	return Start(tb, bin, env, args...).Wait(2 * time.Minute)
}

// Result is how one run of a process ended and what it wrote.
type Result struct {
	Code           int  // -1 when killed by a signal
	Killed         bool // by SIGKILL
	Took           time.Duration
	Stdout, Stderr string
	Logs           []map[string]any // the JSON lines of stderr
}

// Line returns the first log line whose msg is msg, or nil.
func (r Result) Line(msg string) map[string]any {
	for _, l := range r.Logs {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// Logged counts the log lines whose msg is msg.
func (r Result) Logged(msg string) int { return count(r.Logs, msg) }

// Finished is the "remediation finished" line (nil: none).
func (r Result) Finished() map[string]any { return r.Line("remediation finished") }

// JSONLines parses the lines of s that are JSON objects.
func JSONLines(s string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil {
			out = append(out, line)
		}
	}
	return out
}

func count(lines []map[string]any, msg string) int {
	n := 0
	for _, l := range lines {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

// EnvList turns a map into NAME=value lines, sorted.
func EnvList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

type locked struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *locked) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Started is when the process was started.
func (p *Process) Started() time.Time { return p.started }

// Took is how long the process ran; zero while it runs.
func (p *Process) Took() time.Duration {
	select {
	case <-p.done:
		return p.took
	default:
		return 0
	}
}

// ExitCode is the exit code once the process ended, -1 before or when a
// signal ended it.
func (p *Process) ExitCode() int {
	if p.Running() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Finished is the "remediation finished" line logged so far (nil: none).
func (p *Process) Finished() map[string]any {
	for _, l := range JSONLines(p.Log()) {
		if l["msg"] == "remediation finished" {
			return l
		}
	}
	return nil
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// process the test starts and must then reach.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}
