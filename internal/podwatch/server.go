package podwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"k8s.io/client-go/kubernetes"
)

// Options configure [Serve].
type Options struct {
	Namespace      string // empty: every namespace
	Address        string // gRPC (generic.Eventing), host:port
	MetricsAddress string // /metrics, /healthz (200 once the cache is full), host:port
}

// Serve runs the watcher and its two servers until ctx ends.
func Serve(ctx context.Context, kube kubernetes.Interface, log *slog.Logger, o Options) error {
	grpcLn, err := net.Listen("tcp", o.Address)
	if err != nil {
		return fmt.Errorf("listening for event sources on %s: %w", o.Address, err)
	}
	httpLn, err := net.Listen("tcp", o.MetricsAddress)
	if err != nil {
		grpcLn.Close()
		return fmt.Errorf("listening for metrics on %s: %w", o.MetricsAddress, err)
	}
	reg := prometheus.NewRegistry()
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "argo_oom_remediator_pod_events_total",
		Help: "Workflow pod changes seen, by type (UPDATE, DELETE) and outcome (sent; unchanged: nothing the Sensor reads changed; no-stream: no event source connected, dropped).",
	}, []string{"type", "outcome"})
	streams := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "argo_oom_remediator_pod_event_streams",
		Help: "Event source streams connected now.",
	})
	hub := &Hub{Log: log, Streams: func(n int) { streams.Set(float64(n)) }}
	w := &Watcher{Kube: kube, Namespace: o.Namespace, Hub: hub, Log: log,
		Counted: func(typ, outcome string) { events.WithLabelValues(typ, outcome).Inc() }}
	cached := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "argo_oom_remediator_pods_cached",
		Help: "Workflow pods in the watcher's cache.",
	}, func() float64 { return float64(w.Cached()) })
	reg.MustRegister(events, streams, cached, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	ready := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true}))
	mux.HandleFunc("/healthz", func(rw http.ResponseWriter, _ *http.Request) {
		select {
		case <-ready:
			_, _ = rw.Write([]byte("ok\n"))
		default:
			http.Error(rw, "listing workflow pods", http.StatusServiceUnavailable)
		}
	})
	web := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	rpc := grpc.NewServer(grpc.ForceServerCodec(wireCodec{}))
	rpc.RegisterService(serviceDesc(), hub)

	var wg sync.WaitGroup
	wg.Go(func() {
		if err := web.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	})
	wg.Go(func() {
		if err := rpc.Serve(grpcLn); err != nil {
			log.Error("event source server stopped", "error", err)
		}
	})
	log.Info("serving workflow pod events", "address", grpcLn.Addr().String(), "metrics", httpLn.Addr().String(), "namespace", o.Namespace)
	err = w.Run(ctx, ready)
	rpc.Stop() // ends the streams: their clients reconnect to the next watcher
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = web.Shutdown(shutdown)
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}
