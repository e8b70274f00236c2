package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// Up starts the daemon unless one is already running, and waits until the API
// server is ready and the CRDs are established. If a cluster is already
// running it only prints where (not an error). State left by a daemon that
// died is cleaned up first. It prints the export line on stdout and progress
// on stderr.
func Up(cfg Config) error {
	st := cfg.state()
	if pid, ok := readPID(st.daemonPID()); ok && isDaemon(pid) {
		if url, err := os.ReadFile(st.ready()); err == nil {
			fmt.Fprintf(os.Stderr, "local cluster already running at %s (daemon pid %d)\n", strings.TrimSpace(string(url)), pid)
			fmt.Printf("export KUBECONFIG=%s\n", st.kubeconfig())
			return nil
		}
		return fmt.Errorf("a local cluster daemon (pid %d) is running but not ready; see %s or run `down`", pid, st.log("daemon"))
	}
	if _, err := os.Stat(st.dir); err == nil {
		fmt.Fprintf(os.Stderr, "cleaning up state of a local cluster that is no longer running in %s\n", st.dir)
		if err := cleanup(cfg); err != nil {
			return err
		}
	}
	// Fail fast, before forking, on the likely problems.
	if _, err := cluster.AssetsDir(cfg.Root); err != nil {
		return err
	}
	if err := cluster.CheckPortFree(cfg.APIServerPort, "kube-apiserver"); err != nil {
		return err
	}
	if err := cluster.CheckPortFree(cfg.EtcdPort, "etcd"); err != nil {
		return err
	}

	began := time.Now()
	cmd, err := startDaemon(cfg)
	if err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Fprintf(os.Stderr, "starting local cluster (daemon pid %d, log %s)...\n", cmd.Process.Pid, st.log("daemon"))

	deadline := time.After(cfg.Timeout)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("local cluster daemon exited (%w) before becoming ready:\n%s\nkube-apiserver log tail:\n%s",
				err, tail(st.log("daemon"), 30), tail(st.log("kube-apiserver"), 10))
		case <-deadline:
			_ = terminate(cmd.Process.Pid, isDaemon, 30*time.Second)
			return fmt.Errorf("local cluster not ready after %s:\n%s", cfg.Timeout, tail(st.log("daemon"), 30))
		case <-time.After(200 * time.Millisecond):
		}
		if url, err := os.ReadFile(st.ready()); err == nil {
			fmt.Fprintf(os.Stderr, "local cluster ready at %s in %s; CRDs installed\n",
				strings.TrimSpace(string(url)), time.Since(began).Round(100*time.Millisecond))
			fmt.Printf("export KUBECONFIG=%s\n", st.kubeconfig())
			return nil
		}
	}
}

// startDaemon re-executes this program as the daemon in a new session, so it
// survives the end of `up` (and of `go run`) and gets no terminal signals.
func startDaemon(cfg Config) (*exec.Cmd, error) {
	st := cfg.state()
	if err := os.MkdirAll(st.path("logs"), 0o755); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(st.log("daemon"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command(self, daemonArg,
		"-apiserver-port="+strconv.Itoa(cfg.APIServerPort), "-etcd-port="+strconv.Itoa(cfg.EtcdPort))
	cmd.Dir = cfg.Root
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting daemon: %w", err)
	}
	if err := writePID(st.daemonPID(), cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	return cmd, nil
}

// Down stops the daemon (SIGTERM, SIGKILL after cfg.Timeout), then any etcd or
// kube-apiserver left behind by a daemon that died, and removes the state
// directory. It is not an error if nothing runs.
func Down(cfg Config) error {
	st := cfg.state()
	if _, err := os.Stat(st.dir); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "no local cluster (nothing in "+st.dir+")")
		return nil
	}
	if pid, ok := readPID(st.daemonPID()); ok && isDaemon(pid) {
		fmt.Fprintf(os.Stderr, "stopping local cluster daemon (pid %d)...\n", pid)
		if err := terminate(pid, isDaemon, cfg.Timeout); err != nil {
			return err
		}
	}
	if err := cleanup(cfg); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "local cluster stopped; removed "+st.dir)
	return nil
}

// cleanup stops etcd and kube-apiserver processes of this state directory,
// whether recorded in pid files or found by their arguments, and removes it.
func cleanup(cfg Config) error {
	st := cfg.state()
	ours := func(pid int) bool { return isComponent(pid) && usesDir(pid, st.dir) }
	// kube-apiserver first, so it does not log errors about a vanished etcd.
	var pids []int
	for i := len(components) - 1; i >= 0; i-- {
		if pid, ok := readPID(st.pidFile(components[i])); ok {
			pids = append(pids, pid)
		}
	}
	pids = append(pids, componentsUsing(st.dir)...) // orphans without pid files
	for _, pid := range pids {
		if ours(pid) {
			fmt.Fprintf(os.Stderr, "stopping leftover %s (pid %d)\n", cmdline(pid)[0], pid)
			if err := terminate(pid, ours, 20*time.Second); err != nil {
				return err
			}
		}
	}
	return os.RemoveAll(st.dir)
}

// Status prints whether the cluster runs and is ready; it returns an error
// when it does not.
func Status(cfg Config) error {
	st := cfg.state()
	pid, ok := readPID(st.daemonPID())
	if !ok || !isDaemon(pid) {
		if _, err := os.Stat(st.dir); err == nil {
			return fmt.Errorf("local cluster not running (stale state in %s; `up` or `down` cleans it)", st.dir)
		}
		return errors.New("local cluster not running")
	}
	fmt.Printf("daemon: pid %d\n", pid)
	for _, n := range components {
		p, _ := readPID(st.pidFile(n))
		fmt.Printf("%s: pid %d\n", n, p)
	}
	kc, err := clientcmd.BuildConfigFromFlags("", st.kubeconfig())
	if err != nil {
		return fmt.Errorf("daemon running but not ready (%w); see %s", err, st.log("daemon"))
	}
	kube, err := kubernetes.NewForConfig(kc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, err := kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("API server at %s not ready: %w", kc.Host, err)
	}
	fmt.Printf("api server: %s (readyz: %s)\nkubeconfig: %s\n", kc.Host, strings.TrimSpace(string(body)), st.kubeconfig())
	return nil
}
