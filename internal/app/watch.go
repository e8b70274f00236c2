package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/decide"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/metrics"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/sweep"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/watch"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/wfstatus"
)

// terminalCheck is how often the rescued workflows are read to time their end.
const terminalCheck = 10 * time.Second

// watch runs the sweep every WatchInterval and serves the metrics until ctx
// ends. A sweep that fails is logged and counted; the next one is the retry.
func (r *runner) watch(ctx context.Context) error {
	m := metrics.New()
	r.watching = &watching{m: m}
	ln, err := net.Listen("tcp", r.cfg.MetricsAddress)
	if err != nil {
		return fmt.Errorf("listening for metrics on %s: %w", r.cfg.MetricsAddress, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			r.deps.Log.Error("metrics server stopped", "error", err)
		}
	})
	terminal := &watch.Terminal{Workflows: wfstatus.NewReader(r.deps.Argo), Metrics: m, Log: r.deps.Log}
	events := &watch.Events{Kube: r.deps.Kube, Namespace: r.cfg.Namespace, Metrics: m, Terminal: terminal, Log: r.deps.Log}
	chains := r.resubmitter()
	if chains != nil {
		events.Rescued = func(ns, wf, node string) { chains.Rescued(ns, wf, node, r.deps.Clock.Now()) }
	}
	wg.Go(func() { events.Run(ctx) })
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		wg.Wait()
	}()
	r.deps.Log.Info("watching", "address", ln.Addr().String(), "interval", r.cfg.WatchInterval.String(),
		"namespace", r.cfg.Namespace, "resubmit", chains != nil)

	sweeps := r.deps.Clock.NewTicker(r.cfg.WatchInterval.Duration)
	defer sweeps.Stop()
	checks := r.deps.Clock.NewTicker(terminalCheck)
	defer checks.Stop()
	for {
		if err := r.sweep(ctx); err != nil && ctx.Err() == nil {
			r.deps.Log.Warn("the sweep ended with errors; the next one retries", "error", err)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				r.deps.Log.Info("stopping")
				return nil
			case <-checks.C():
				terminal.Check(ctx, r.deps.Clock.Now())
				if chains != nil {
					chains.Check(ctx, r.deps.Clock.Now())
				}
			case <-sweeps.C():
				break wait
			}
		}
	}
}

// watching turns each sweep into metrics; nil (a one-off sweep) does
// nothing.
type watching struct {
	m *metrics.Metrics
	// firstSeen remembers when a stuck node whose end is not known (its
	// workflow's nodes offloaded or unreadable) was first found.
	firstSeen map[string]time.Time
}

func (w *watching) scanFailed(start, end time.Time) {
	if w == nil {
		return
	}
	w.m.Sweeps.WithLabelValues("failed").Inc()
	w.m.SweepDuration.Observe(end.Sub(start).Seconds())
}

// swept records what a sweep left stuck: the nodes it found held by a
// task result that is not complete, less those its runs rescued or found
// rescued meanwhile.
func (w *watching) swept(scan sweep.Scan, todo []sweep.Candidate, runs []nodeRun, summaryFailed bool, start, end time.Time) {
	if w == nil {
		return
	}
	resolved := map[string]bool{}
	for i, run := range runs {
		o := run.res.Outcome
		if run.err == nil && !run.res.Stuck && o != remediate.OutcomeDeadlineExceeded && o != remediate.OutcomeWouldRemediate {
			resolved[nodeKey(todo[i].Target)] = true
		}
	}
	first := map[string]time.Time{}
	since := func(k string, known time.Time) time.Time {
		if !known.IsZero() {
			return known
		}
		if at, ok := w.firstSeen[k]; ok {
			first[k] = at
		} else {
			first[k] = start
		}
		return first[k]
	}
	var stuck []metrics.Stuck
	for _, c := range scan.Candidates {
		// Skip: not held (its task result is complete; the controller
		// has yet to copy it into the status entry).
		if k := nodeKey(c.Target); !resolved[k] && c.Decision.Action != decide.Skip {
			stuck = append(stuck, metrics.Stuck{Namespace: c.Target.Namespace, Since: since(k, c.NodeFinished)})
		}
	}
	for _, u := range scan.Unreadable {
		stuck = append(stuck, metrics.Stuck{Namespace: u.Namespace, Since: since(u.Namespace+"/"+u.Workflow, time.Time{})})
	}
	w.firstSeen = first
	w.m.SetStuck(stuck, end)
	w.m.Sweeps.WithLabelValues("ok").Inc()
	w.m.LastSweep.Set(float64(end.UnixMilli()) / 1000)
	w.m.SweepDuration.Observe(end.Sub(start).Seconds())
	if summaryFailed {
		w.m.NotificationFailures.WithLabelValues("sweep").Inc()
	}
}

func nodeKey(t remediate.Target) string { return t.Namespace + "/" + t.Workflow + "/" + t.NodeID }
