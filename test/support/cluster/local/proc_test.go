package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

func TestPIDFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pid")
	if _, ok := readPID(path); ok {
		t.Fatal("missing pid file read as ok")
	}
	if err := writePID(path, 4242); err != nil {
		t.Fatal(err)
	}
	if pid, ok := readPID(path); !ok || pid != 4242 {
		t.Fatalf("readPID = %d, %v", pid, ok)
	}
}

func TestProcessInspection(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if cmdline(os.Getpid()) == nil {
		t.Fatal("own cmdline not found")
	}
	if isDaemon(os.Getpid()) || isComponent(os.Getpid()) {
		t.Fatal("test process taken for a daemon or component")
	}

	// A child is found by its arguments and executable, and terminate ends it
	// (after which cmdline sees it as gone, zombie or reaped).
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("tail", "-f", marker)
	if err := cmd.Start(); err != nil {
		t.Skip("no tail command:", err)
	}
	go func() { _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	// Start returns once exec has begun; the new arguments are visible in
	// /proc a moment later (an empty cmdline until then, seen under load).
	_ = wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 5*time.Second, true,
		func(context.Context) (bool, error) { return cmdline(pid) != nil, nil })
	if !usesDir(pid, dir) {
		t.Fatalf("usesDir(%d, %s) = false for %q", pid, dir, cmdline(pid))
	}
	if got := childrenRunning(map[string]string{"tail": "tail"})["tail"]; got != pid {
		t.Errorf("childrenRunning found %d, want %d", got, pid)
	}
	alive := func(p int) bool { return cmdline(p) != nil }
	if err := terminate(pid, alive, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatal("process still alive after terminate")
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tail(path, 2); got != "b\nc" {
		t.Errorf("tail = %q", got)
	}
}
