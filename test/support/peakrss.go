package support

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// peakRSSHelper is a program of a few MiB that runs its arguments (after
// the first) as a child and writes the child's peak RSS (KiB) and CPU time
// (ms) to the file named by the first. The child's Maxrss cannot be taken from a wait of the
// test process itself: Linux carries the pre-exec address space's high-water
// mark into the exec'd program's, and os/exec clones the test process (its
// memory: hundreds of MiB after building large workflows) to start the
// child, so the figure would be the test binary's. Started from this small
// helper, the child's figure is its own (with a floor of the helper's
// ~2.4 MiB).
const peakRSSHelper = `package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

func main() {
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// A SIGTERM or SIGINT meant for the child (a test stopping a service
	// the way the kubelet does) is passed on: the helper would otherwise
	// die of it, leave the child running and write no figure.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(125)
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(125)
	}
	use := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if err := os.WriteFile(os.Args[1], []byte(fmt.Sprint(use.Maxrss, " ", cpu.Milliseconds())), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(125)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
`

// PeakRSS runs programs through peakRSSHelper, built once into a directory.
type PeakRSS struct{ helper, out string }

func NewPeakRSS(tb testing.TB, dir string) *PeakRSS {
	tb.Helper()
	src := filepath.Join(dir, "peakrss-src")
	if err := os.MkdirAll(src, 0o700); err != nil {
		tb.Fatal(err)
	}
	for name, content := range map[string]string{"main.go": peakRSSHelper, "go.mod": "module peakrss\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	p := &PeakRSS{helper: filepath.Join(dir, "peakrss"), out: filepath.Join(dir, "peakrss.out")}
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", p.helper, ".")
	build.Dir, build.Env = src, append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building the peak-RSS helper: %v\n%s", err, out)
	}
	return p
}

// Named returns a PeakRSS that shares p's helper and keeps its own figure
// (file peakrss-<name>.out beside p's), for processes that run at once.
func (p *PeakRSS) Named(name string) *PeakRSS {
	return &PeakRSS{helper: p.helper, out: filepath.Join(filepath.Dir(p.out), "peakrss-"+name+".out")}
}

// Command runs bin with args through the helper.
func (p *PeakRSS) Command(bin string, args ...string) *exec.Cmd {
	_ = os.Remove(p.out)
	return exec.Command(p.helper, append([]string{p.out, bin}, args...)...)
}

// MiB is the peak RSS of the last command's child, in MiB.
func (p *PeakRSS) MiB(tb testing.TB) float64 {
	tb.Helper()
	return p.figure(tb, 0) / 1024
}

// CPUSeconds is the CPU time (user + system) of the last command's child
// over its whole life.
func (p *PeakRSS) CPUSeconds(tb testing.TB) float64 {
	tb.Helper()
	return p.figure(tb, 1) / 1000
}

// figure is field i of the helper's report: peak RSS in KiB, CPU in ms.
func (p *PeakRSS) figure(tb testing.TB, i int) float64 {
	tb.Helper()
	data, err := os.ReadFile(p.out)
	if err != nil {
		tb.Fatalf("the peak-RSS helper left no figure: %v", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		tb.Fatalf("the peak-RSS helper's report %q: want peak KiB and CPU ms", data)
	}
	v, err := strconv.ParseFloat(fields[i], 64)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// RSSMiB is the resident memory (VmRSS) of process pid now, in MiB; an
// error once it has exited.
func RSSMiB(pid int) (float64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kib, err := strconv.ParseFloat(f[1], 64)
			return kib / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
