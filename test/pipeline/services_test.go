package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	aev1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"k8s.io/client-go/rest"
)

// services runs Argo Events eventsource and sensor services, each as its
// own process of test/cmd/argoevents (the same adaptor and sensor code as
// the argo-events image, built without -race: see that command for why),
// with its object, the EventBus configuration and a kubeconfig of its
// ServiceAccount.
type services struct {
	bin  string // test/cmd/argoevents, built by TestMain
	dir  string
	logs *serviceLogs
	// rss, when set, runs every process under the peak-RSS helper.
	rss *support.PeakRSS

	mu       sync.Mutex
	procs    []*serviceProc
	peaks    map[string]*support.PeakRSS // by service name, with rss
	stopping bool
	stopOnce sync.Once
	stopErrs []error
}

type serviceProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func newServices(bin, dir string, logs *serviceLogs) *services {
	return &services{bin: bin, dir: dir, logs: logs}
}

// startEventSource runs es with the credentials of cfg; the service's name
// in the logs is "eventsource-<name>".
func (s *services) startEventSource(es *aev1.EventSource, bus *aev1.BusConfig, cfg *rest.Config) error {
	return s.start("eventsource", es.Name, es, bus, cfg)
}

// startSensor runs sensor with the credentials of cfg (the Sensor's
// ServiceAccount); "sensor-<name>" in the logs.
func (s *services) startSensor(sensor *aev1.Sensor, bus *aev1.BusConfig, cfg *rest.Config) error {
	return s.start("sensor", sensor.Name, sensor, bus, cfg)
}

// startPodWatcher runs `remediator pods` (bin) on namespace with the
// credentials of cfg, serving the generic event source on addr and its
// /metrics on metricsAddr; "pods" in the logs.
func (s *services) startPodWatcher(bin, namespace, addr, metricsAddr string, cfg *rest.Config) error {
	kubeconfig, err := s.kubeconfig("pods", cfg)
	if err != nil {
		return err
	}
	return s.run("pods", s.command("pods", bin, "pods"), "REMEDIATOR_KUBECONFIG="+kubeconfig, "REMEDIATOR_NAMESPACE="+namespace,
		"REMEDIATOR_PODS_ADDRESS="+addr, "REMEDIATOR_METRICS_ADDRESS="+metricsAddr, "REMEDIATOR_LOG_FORMAT=json")
}

// command is the command of service name: bin with args, under the
// peak-RSS helper when s.rss is set.
func (s *services) command(name, bin string, args ...string) *exec.Cmd {
	if s.rss == nil {
		return exec.Command(bin, args...)
	}
	r := s.rss.Named(name)
	s.mu.Lock()
	if s.peaks == nil {
		s.peaks = map[string]*support.PeakRSS{}
	}
	s.peaks[name] = r
	s.mu.Unlock()
	return r.Command(bin, args...)
}

// RSSMiB is the resident memory (VmRSS) of service name now, read from
// /proc: of the helper's child when it runs under the peak-RSS helper.
func (s *services) RSSMiB(name string) (float64, error) {
	s.mu.Lock()
	var pid int
	for _, p := range s.procs {
		if p.name == name {
			pid = p.cmd.Process.Pid
		}
	}
	wrapped := s.rss != nil
	s.mu.Unlock()
	if pid == 0 {
		return 0, fmt.Errorf("no service %s", name)
	}
	if wrapped {
		// The child is listed under the thread that forked it, any of the
		// helper's.
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		if err != nil {
			return 0, err
		}
		var children []string
		for _, t := range tasks {
			b, _ := os.ReadFile(t)
			children = append(children, strings.Fields(string(b))...)
		}
		if len(children) != 1 {
			return 0, fmt.Errorf("the peak-RSS helper of %s has children %q", name, children)
		}
		if pid, err = strconv.Atoi(children[0]); err != nil {
			return 0, err
		}
	}
	return support.RSSMiB(pid)
}

// Names lists the services started, in order.
func (s *services) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, len(s.procs))
	for i, p := range s.procs {
		names[i] = p.name
	}
	return names
}

// PeakMiB is the peak RSS of service name ("pods", "sensor-<name>",
// "eventsource-<name>"), known once Stop returned; the services must have
// run under the helper (pipelineOptions.PeakRSS).
func (s *services) PeakMiB(tb testing.TB, name string) float64 {
	tb.Helper()
	return s.peak(tb, name).MiB(tb)
}

// CPUSeconds is the CPU time service name used over its life, read as
// PeakMiB is.
func (s *services) CPUSeconds(tb testing.TB, name string) float64 {
	tb.Helper()
	return s.peak(tb, name).CPUSeconds(tb)
}

func (s *services) peak(tb testing.TB, name string) *support.PeakRSS {
	tb.Helper()
	s.mu.Lock()
	r, ok := s.peaks[name]
	s.mu.Unlock()
	if !ok {
		tb.Fatalf("service %s did not run under the peak-RSS helper", name)
	}
	return r
}

func (s *services) kubeconfig(name string, cfg *rest.Config) (string, error) {
	kc, err := cluster.KubeConfigFor(cfg)
	if err != nil {
		return "", err
	}
	path := filepath.Join(s.dir, "kubeconfig-"+name)
	return path, os.WriteFile(path, kc, 0o600)
}

func (s *services) start(kind, objName string, obj any, bus *aev1.BusConfig, cfg *rest.Config) error {
	name := kind + "-" + objName
	files := map[string]any{name + ".json": obj, name + "-bus.json": bus}
	for file, v := range files {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(s.dir, file), b, 0o600); err != nil {
			return err
		}
	}
	kubeconfig, err := s.kubeconfig(name, cfg)
	if err != nil {
		return err
	}
	// Leader electors write /tmp/graft.log, as in a pod.
	cmd := s.command(name, s.bin, "-kind", kind, "-name", name,
		"-object", filepath.Join(s.dir, name+".json"), "-bus", filepath.Join(s.dir, name+"-bus.json"))
	return s.run(name, cmd, aev1.EnvVarKubeConfig+"="+kubeconfig)
}

// run starts cmd as the service name with env added to the test process's
// environment (SSL_CERT_FILE, HTTPS_PROXY: set by TestMain).
func (s *services) run(name string, cmd *exec.Cmd, env ...string) error {
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = s.logs.writer(name), s.logs.writer(name)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	p := &serviceProc{name: name, cmd: cmd, done: make(chan struct{})}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		s.mu.Lock()
		stopping := s.stopping
		s.mu.Unlock()
		if !stopping {
			s.logs.died(name, p.err)
		}
	}()
	return nil
}

// Stop ends every service (SIGTERM, as the kubelet would) and waits for
// them, killing what has not exited after 30 s. It must run before the
// EventBus shuts down: a leader elector that loses its NATS connection
// calls Fatal. A test may stop them early (to read their peak RSS); the
// later calls return the first one's errors.
func (s *services) Stop() []error {
	s.stopOnce.Do(func() { s.stopErrs = s.stop() })
	return s.stopErrs
}

func (s *services) stop() []error {
	s.mu.Lock()
	s.stopping = true
	procs := s.procs
	s.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	var errs []error
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("%s did not exit within 30 s of SIGTERM", p.name))
			continue
		}
		if p.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, p.err))
		}
	}
	return errs
}
