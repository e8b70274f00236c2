// Command argoevents runs one Argo Events v1.9.10 EventSource or Sensor
// service as its own process, as the argo-events image does in the
// EventSource's or Sensor's pod (pkg/eventsources/cmd, pkg/sensors/cmd):
// the same adaptor and sensor context, the object and EventBus
// configuration the controller would pass, the Kubernetes client of
// $KUBECONFIG. What differs from that image is fit for sharing one host:
//
//   - the object and the bus configuration come from JSON files instead of
//     base64 environment variables;
//   - the metrics are served on -metrics-addr (default: not served), not on
//     the fixed :7777/:7778, which several services on one host would
//     contend for (argo-events calls Fatal when the port is taken);
//   - logs are JSON lines on stdout with the logger named -name, so that
//     the test that runs it can wait for a line.
//
// Why a process: test/pipeline used to run these services inside the test
// binary, built with -race, and argo-events v1.9.10's JetStream trigger
// connection formats a subscription (%+v) while another of its goroutines
// acks a message in it (pkg/eventbus/jetstream/sensor/trigger_conn.go): a
// data race of the dependency that failed our tests, not a behaviour of
// ours. In its own process, built without -race, the service runs as it
// does in a cluster, and the race detector keeps watching our code.
//
//	argoevents -kind sensor -object sensor.json -bus bus.json -name sensor-oom-remediation
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	aev1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/eventsources"
	"github.com/argoproj/argo-events/pkg/metrics"
	"github.com/argoproj/argo-events/pkg/sensors"
	"github.com/argoproj/argo-events/pkg/shared/logging"
	sharedutil "github.com/argoproj/argo-events/pkg/shared/util"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// eventBusSubject is what the controller sets in EVENTBUS_SUBJECT; the
// JetStream drivers derive their subjects from the event source and event
// names and ignore it.
const eventBusSubject = "eventbus-default"

func main() {
	kind := flag.String("kind", "", "sensor or eventsource")
	object := flag.String("object", "", "the Sensor or EventSource, as JSON")
	bus := flag.String("bus", "", "the EventBus configuration (EVENTBUS_CONFIG), as JSON")
	name := flag.String("name", "", "the logger's name (default: <kind>-<object name>)")
	metricsAddr := flag.String("metrics-addr", "", "serve /metrics here (host:port, port 0 for any); the address is logged")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := run(ctx, *kind, *object, *bus, *name, *metricsAddr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "argoevents:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kind, objectFile, busFile, name, metricsAddr string) error {
	var busCfg aev1.BusConfig
	if err := readJSON(busFile, &busCfg); err != nil {
		return err
	}
	var (
		namespace, objName string
		start              func(ctx context.Context, m *metrics.Metrics) error
	)
	switch kind {
	case "eventsource":
		var es aev1.EventSource
		if err := readJSON(objectFile, &es); err != nil {
			return err
		}
		namespace, objName = es.Namespace, es.Name
		start = func(ctx context.Context, m *metrics.Metrics) error {
			return eventsources.NewEventSourceAdaptor(&es, &busCfg, eventBusSubject, es.Name+"-eventsource-0", m).Start(ctx)
		}
	case "sensor":
		var s aev1.Sensor
		if err := readJSON(objectFile, &s); err != nil {
			return err
		}
		namespace, objName = s.Namespace, s.Name
		start = func(ctx context.Context, m *metrics.Metrics) error {
			kube, dyn, err := clients()
			if err != nil {
				return err
			}
			return sensors.NewSensorContext(kube, dyn, &s, &busCfg, eventBusSubject, s.Name+"-sensor-0", m).Start(ctx)
		}
	default:
		return fmt.Errorf("-kind %q: want sensor or eventsource", kind)
	}
	if name == "" {
		name = kind + "-" + objName
	}
	log := logger(name)
	defer func() { _ = log.Sync() }()
	m := metrics.NewMetrics(namespace)
	if metricsAddr != "" {
		if err := serveMetrics(metricsAddr, m, log); err != nil {
			return err
		}
	}
	return start(logging.WithLogger(ctx, log), m)
}

// clients are the Sensor's Kubernetes clients, from $KUBECONFIG as in
// pkg/sensors/cmd.
func clients() (kubernetes.Interface, dynamic.Interface, error) {
	cfg, err := sharedutil.GetClientConfig(os.Getenv(aev1.EnvVarKubeConfig))
	if err != nil {
		return nil, nil, fmt.Errorf("kubeconfig: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	return kube, dyn, err
}

// serveMetrics serves what metrics.Metrics.Run registers (Go collector and
// the argo-events metrics) on addr and logs the address it listens on.
func serveMetrics(addr string, m *metrics.Metrics, log *zap.SugaredLogger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), m)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	go func() {
		if err := http.Serve(ln, mux); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Errorw("metrics server stopped", zap.Error(err))
		}
	}()
	log.Infow("serving metrics", "addr", ln.Addr().String())
	return nil
}

// logger writes JSON lines (logger, level, msg, ts) to stdout.
func logger(name string) *zap.SugaredLogger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(os.Stdout), zapcore.InfoLevel)
	return zap.New(core).Named(name).Sugar()
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
