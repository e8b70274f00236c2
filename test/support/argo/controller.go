// Package argo runs a real Argo Workflows workflow-controller, built from its
// Go module at an exact version by `make tools-controllers`, against a local
// control plane: out of cluster, namespaced to one namespace, leader
// election off, metrics and telemetry servers off so several can run at once.
package argo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// Versions are the controller versions the project builds and tests.
var Versions = []string{"v3.5.8", "v3.5.13", "v3.6.15", "v3.7.3", "v3.7.18", "v4.0.5"}

// ConfigMapName is the controller's configuration ConfigMap.
const ConfigMapName = "workflow-controller-configmap"

// controllerConfig turns off what would bind fixed ports and sets no pod GC
// default (scenarios choose theirs).
const controllerConfig = `metricsConfig:
  enabled: false
telemetryConfig:
  enabled: false
`

// Controller is a running workflow-controller.
type Controller struct {
	Version   string
	Namespace string
	LogPath   string
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has exited
	exitErr   error         // how it exited, once done is closed
	stopOnce  sync.Once
}

// Binary returns the path of the controller binary of version.
func Binary(version string) (string, error) {
	root, err := cluster.RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", "workflow-controller", version, "workflow-controller")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("argo: workflow-controller %s not built (%w); run `make tools-controllers`", version, err)
	}
	return p, nil
}

// Start runs the controller of version for namespace on c, with its log in
// logDir, and returns once it reports it started. extraEnv is added to its
// environment (e.g. DEFAULT_REQUEUE_TIME).
func Start(ctx context.Context, c *cluster.Cluster, version, namespace, logDir string, extraEnv ...string) (*Controller, error) {
	bin, err := Binary(version)
	if err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: namespace},
		Data: map[string]string{"config": controllerConfig}}
	if _, err := c.Kube.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("argo: creating %s/%s: %w", namespace, ConfigMapName, err)
	}
	kc, err := kubeconfigIn(c, namespace)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(logDir, "kubeconfig-"+namespace)
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("workflow-controller-%s-%s.log", version, namespace))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--namespaced", "--managed-namespace", namespace,
		"--configmap", ConfigMapName, "--executor-image", "quay.io/argoproj/argoexec:"+version, "--loglevel", "info")
	cmd.Env = append(os.Environ(), "LEADER_ELECTION_DISABLE=true", "ARGO_NAMESPACE="+namespace)
	cmd.Env = append(cmd.Env, extraEnv...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("argo: starting workflow-controller %s: %w", version, err)
	}
	ctl := &Controller{Version: version, Namespace: namespace, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	started, logged := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(logged)
		var once sync.Once
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if strings.Contains(line, "Starting Workflow Controller") || strings.Contains(line, "Starting workflow controller") {
				once.Do(func() { close(started) })
			}
		}
		_, _ = io.Copy(io.Discard, pr)
		logFile.Close()
	}()
	go func() {
		ctl.exitErr = cmd.Wait()
		pw.Close()
		close(ctl.done)
	}()
	select {
	case <-started:
		return ctl, nil
	case <-ctl.done:
		<-logged
		return nil, fmt.Errorf("argo: workflow-controller %s exited at start (%w); log %s ends:\n%s", version, ctl.exitErr, logPath, tail(ctl.Log(), 15))
	case <-time.After(60 * time.Second):
		ctl.Stop()
		return nil, fmt.Errorf("argo: workflow-controller %s did not start within 60s; log: %s", version, logPath)
	case <-ctx.Done():
		ctl.Stop()
		return nil, ctx.Err()
	}
}

// Stop terminates the controller (SIGTERM, then SIGKILL after 10s).
func (c *Controller) Stop() {
	c.stopOnce.Do(func() {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
		}
	})
}

// Log returns the controller's log so far.
func (c *Controller) Log() string {
	b, err := os.ReadFile(c.LogPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err.Error()
	}
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kubeconfigIn is the admin kubeconfig with namespace as its context's
// namespace: the controller reads its ConfigMap from there.
func kubeconfigIn(c *cluster.Cluster, namespace string) ([]byte, error) {
	raw, err := c.KubeConfig()
	if err != nil {
		return nil, err
	}
	kc, err := clientcmd.Load(raw)
	if err != nil {
		return nil, err
	}
	kc.Contexts[kc.CurrentContext].Namespace = namespace
	return clientcmd.Write(*kc)
}

// Tail is the last n lines of the controller's log, for failure messages.
func (c *Controller) Tail(n int) string { return tail(c.Log(), n) }
