package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	aev1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"k8s.io/client-go/rest"
)

const controllerVersion = "v3.5.8"

// pipeline is everything of one test: cluster, controller, EventBus,
// Argo Events services, Job runner, all in namespace NS.
type pipeline struct {
	C       *cluster.Cluster
	NS      string
	Dir     string // logs: controller, argo-events.log, job-*.log
	Kubelet kubelet.Kubelet
	Jobs    *jobRunner
	Logs    *serviceLogs
	SinkURL string
	// Services are the Argo Events services and the pod watcher;
	// WatcherMetrics is the pod watcher's /metrics URL.
	Services       *services
	WatcherMetrics string
}

// pipelineOptions shape a pipeline for a test that needs less than all of
// it. The zero value is not a useful pipeline: see startPipeline.
type pipelineOptions struct {
	// JobParallelism bounds how many remediator Jobs run at once. 0: the
	// Jobs are recorded (p.Jobs) but never run, for a measurement whose
	// workflows are fake and must not be acted on.
	JobParallelism int
	// ControllerEnv is added to the workflow-controller's environment.
	ControllerEnv []string
	// NoController: no workflow-controller, for pods that belong to no
	// real workflow (nothing else must act on them).
	NoController bool
	// PeakRSS runs each Argo Events service and the pod watcher under the
	// peak-RSS helper; p.Services.PeakMiB reads a figure once they stopped.
	PeakRSS bool
}

// startPipeline brings the whole pipeline up and registers its teardown.
// jobParallelism bounds how many remediator Jobs run at once. controllerEnv
// is added to the workflow-controller's environment (argo.Start), e.g.
// "MAX_WORKFLOW_SIZE=20000"; most tests pass none.
func startPipeline(t *testing.T, jobParallelism int, controllerEnv ...string) *pipeline {
	t.Helper()
	return startPipelineWith(t, pipelineOptions{JobParallelism: jobParallelism, ControllerEnv: controllerEnv})
}

// startPipelineWith brings up the pipeline as o says and registers its
// teardown.
func startPipelineWith(t testing.TB, o pipelineOptions) *pipeline {
	t.Helper()
	bin := remediatorBinary(t)
	c := cluster.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := &pipeline{C: c, NS: c.NewNamespace(t), Dir: logDir(t), Kubelet: kubelet.Kubelet{Kube: c.Kube, Argo: c.Argo}}
	if !o.NoController {
		ctl, err := argo.Start(ctx, c, controllerVersion, p.NS, p.Dir, o.ControllerEnv...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ctl.Stop)
	}

	port, err := support.FreePort()
	must(t, err)
	p.SinkURL = "http://127.0.0.1:" + port + "/remediations"
	must(t, applyBase(ctx, c.Kube, p.NS, func(d map[string]string) { d["REMEDIATOR_SINK_URL"] = p.SinkURL }))

	bus, err := startEventBus(ca, filepath.Join(p.Dir, "jetstream"))
	must(t, err)
	t.Cleanup(bus.Shutdown)
	p.Logs, err = newServiceLogs(filepath.Join(p.Dir, "argo-events.log"))
	must(t, err)
	t.Cleanup(func() { _ = p.Logs.Close() })

	svcs := newServices(argoEventsBin, p.Dir, p.Logs)
	if o.PeakRSS {
		svcs.rss = support.NewPeakRSS(t, p.Dir)
	}
	p.Services = svcs
	t.Cleanup(func() {
		for _, err := range svcs.Stop() {
			t.Errorf("argo-events service: %v", err)
		}
		for _, f := range p.Logs.fatals() {
			t.Errorf("argo-events service logged %s: %s: %s", f.Level, f.Logger, f.Message)
		}
	})
	must(t, startArgoEvents(ctx, p, svcs, bus.Config, port))
	must(t, p.waitReady(ctx))

	p.Jobs, err = startJobRunner(c, p.NS, bin, p.Dir, o.JobParallelism)
	must(t, err)
	t.Cleanup(p.Jobs.Stop)
	t.Logf("pipeline up in namespace %s; logs in %s", p.NS, p.Dir)
	return p
}

// startArgoEvents loads the shipped EventSources and Sensors into the
// namespace and runs them, each with the credentials its pod would have.
func startArgoEvents(ctx context.Context, p *pipeline, svcs *services, bus *aev1.BusConfig, webhookPort string) error {
	esCfg, err := p.C.ServiceAccountConfig(ctx, p.NS, "oom-remediator-eventsource")
	if err != nil {
		return err
	}
	pods, err := loadEventSource("workflow-pods.yaml", p.NS)
	if err != nil {
		return err
	}
	// The pod watcher (`remediator pods`, the Deployment oom-remediator-pods)
	// with the EventSource's ServiceAccount, on the namespace the shipped
	// Role covers, as the namespaced overlay sets it; the generic source
	// reaches it on a free port instead of the Service.
	watcherPort, err := support.FreePort()
	if err != nil {
		return err
	}
	// Its metrics on a port the test knows, to read what it sent and dropped.
	metricsPort, err := support.FreePort()
	if err != nil {
		return err
	}
	p.WatcherMetrics = "http://127.0.0.1:" + metricsPort + "/metrics"
	if err := svcs.startPodWatcher(builtBin, p.NS, "127.0.0.1:"+watcherPort, "127.0.0.1:"+metricsPort, esCfg); err != nil {
		return err
	}
	src := pods.Spec.Generic["workflow-pods"]
	src.URL = "127.0.0.1:" + watcherPort
	pods.Spec.Generic["workflow-pods"] = src
	notifications, err := loadEventSource("remediator-notifications.yaml", p.NS)
	if err != nil {
		return err
	}
	hook := notifications.Spec.Webhook["remediations"]
	hook.Port = webhookPort // instead of 12000, which other tests may hold
	notifications.Spec.Webhook["remediations"] = hook

	remediation, err := loadSensor("oom-remediation.yaml", p.NS)
	if err != nil {
		return err
	}
	notification, err := loadSensor("oom-notification.yaml", p.NS)
	if err != nil {
		return err
	}
	sensorCfg, err := p.C.ServiceAccountConfig(ctx, p.NS, remediation.Spec.Template.ServiceAccountName)
	if err != nil {
		return err
	}
	// oom-notification and both EventSources have no serviceAccountName:
	// their pods run as "default", which has no permissions (they call no
	// Kubernetes API).
	defaultCfg, err := p.C.ServiceAccountConfig(ctx, p.NS, "default")
	if err != nil {
		return err
	}
	for _, es := range []*aev1.EventSource{pods, notifications} {
		if err := svcs.startEventSource(es, bus, defaultCfg); err != nil {
			return err
		}
	}
	for sensor, cfg := range map[*aev1.Sensor]*rest.Config{remediation: sensorCfg, notification: defaultCfg} {
		if err := svcs.startSensor(sensor, bus, cfg); err != nil {
			return err
		}
	}
	return nil
}

// Set by TestMain: the remediator as shipped, and test/cmd/argoevents.
var builtBin, argoEventsBin string

// remediatorBinary is the remediator as shipped, built once by TestMain
// into its temporary directory (removed when the process ends).
func remediatorBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the whole pipeline on a local control plane; skipped with -short")
	}
	return builtBin
}

// logDir returns a directory for the test's logs, kept when the test fails
// (or when PIPELINE_LOG_DIR names a parent directory), removed otherwise.
func logDir(t testing.TB) string {
	t.Helper()
	parent := os.Getenv("PIPELINE_LOG_DIR")
	dir, err := os.MkdirTemp(parent, "pipeline-")
	must(t, err)
	t.Cleanup(func() {
		if parent == "" && !t.Failed() {
			_ = os.RemoveAll(dir)
		} else {
			t.Logf("logs kept in %s", dir)
		}
	})
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
