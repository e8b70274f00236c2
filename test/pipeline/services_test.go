package pipeline

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	aev1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/eventsources"
	"github.com/argoproj/argo-events/pkg/metrics"
	"github.com/argoproj/argo-events/pkg/sensors"
	"github.com/argoproj/argo-events/pkg/shared/logging"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// eventBusSubject is what the controller sets in EVENTBUS_SUBJECT; the
// JetStream drivers derive their subjects from the event source and event
// names and ignore it.
const eventBusSubject = "eventbus-default"

// services runs Argo Events eventsource and sensor services in this process,
// as their cmd packages do (pkg/eventsources/cmd, pkg/sensors/cmd) minus the
// environment decoding and the metrics server on :7777/:7778: the metrics
// are collected (metrics.NewMetrics) but not served.
type services struct {
	logs   *serviceLogs
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ctx    context.Context

	mu   sync.Mutex
	errs []error
}

func newServices(logs *serviceLogs) *services {
	ctx, cancel := context.WithCancel(context.Background())
	return &services{logs: logs, ctx: ctx, cancel: cancel}
}

func (s *services) run(name string, start func(ctx context.Context) error) {
	ctx := logging.WithLogger(s.ctx, s.logs.logger(name))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := start(ctx); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Errorf("%s: %w", name, err))
			s.mu.Unlock()
		}
	}()
}

// startEventSource runs es; the service's name in the logs is
// "eventsource-<name>".
func (s *services) startEventSource(es *aev1.EventSource, bus *aev1.BusConfig) {
	s.run("eventsource-"+es.Name, func(ctx context.Context) error {
		a := eventsources.NewEventSourceAdaptor(es, bus, eventBusSubject, es.Name+"-eventsource-0", metrics.NewMetrics(es.Namespace))
		return a.Start(ctx)
	})
}

// startSensor runs sensor with the Kubernetes clients of cfg (the Sensor's
// ServiceAccount); "sensor-<name>" in the logs.
func (s *services) startSensor(sensor *aev1.Sensor, bus *aev1.BusConfig, cfg *rest.Config) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	s.run("sensor-"+sensor.Name, func(ctx context.Context) error {
		sc := sensors.NewSensorContext(kube, dyn, sensor, bus, eventBusSubject, sensor.Name+"-sensor-0", metrics.NewMetrics(sensor.Namespace))
		return sc.Start(ctx)
	})
	return nil
}

// Stop cancels every service and waits for them to return. It must run
// before the EventBus shuts down: a leader elector that loses its NATS
// connection calls Fatal.
func (s *services) Stop() []error {
	s.logs.quiet()
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errs
}

// useKubeconfig points KUBECONFIG at a kubeconfig of cfg: the resource event
// source builds its client from that variable (sharedutil.GetClientConfig),
// or from the in-cluster config when it is empty.
func useKubeconfig(cfg *rest.Config, dir string) error {
	kc, err := cluster.KubeConfigFor(cfg)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "kubeconfig-eventsource")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		return err
	}
	return os.Setenv(aev1.EnvVarKubeConfig, path)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}
