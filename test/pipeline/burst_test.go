package pipeline

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The event path under a burst (issue 12): N shard pods of one fake
// fan-out go Pending → Running → Succeeded with the controller's label
// churn, M of them OOMKilled instead, all written to the API server as fast
// as burstWriters clients can; the figures are how fast events flow from
// the pod watcher through the EventSource, the EventBus and the Sensor to
// Jobs, and what each process needs in memory meanwhile.
//
// The workflows are fake: the pipeline runs without the workflow-controller
// and its Job runner only records the Jobs (pipelineOptions), so nothing acts
// on the pods.

// burstSize is a burst's number of shard pods, how many of them OOM, and
// when. By default the OOMKilled shards start (Pending, Running) first and
// all OOM in one wave once half of the healthy shards are written, while
// the other half still is: a wide fan-out hitting its memory limit in the
// middle of a busy cluster, the case the Sensor's rateLimit is for. Spread:
// each OOMs in its turn, evenly spread over the burst (about 2/s at full
// size, under the rateLimit).
type burstSize struct {
	Shards, OOMs int
	Spread       bool
}

const (
	// burstPodFile is a real Argo v3.5 pod (init, wait, main), as captured.
	burstPodFile = "../events/testdata/pods/oom-main/01-running.json"
	// burstWorkflow is the fake fan-out every shard belongs to.
	burstWorkflow = "burst"
	// burstWriters bounds the test's concurrent API requests: enough to
	// keep the API server busy on 2 cores without the test's own client
	// rate limiting (there is none on these clients) deciding the figures.
	// The OOM wave has writers of its own, as many.
	burstWriters = 32
	// updatesPerShard: Pending, Running, terminal (each changes what the
	// Sensor reads), then the controller's completed=true label (does not).
	updatesPerShard = 4
	sentPerShard    = 3

	// sentinelShard OOMs after the burst was published (runBurst).
	sentinelShard = "burst-sentinel"

	workflowLabel  = "workflows.argoproj.io/workflow"
	completedLabel = "workflows.argoproj.io/completed"
	nodeIDKey      = "workflows.argoproj.io/node-id"
	watcherEvents  = "argo_oom_remediator_pod_events_total"
	podsSource     = "eventsource-workflow-pods"
)

// The processes whose peak RSS a burst reports, by service name.
var burstProcesses = []struct{ Service, Metric string }{
	{"sensor-oom-remediation", "sensor-peak-RSS-MiB"},
	{podsSource, "eventsource-peak-RSS-MiB"},
	{"pods", "watcher-peak-RSS-MiB"},
}

// burstFigures is what one burst measured; durations "at" are since the
// first pod UPDATE was sent.
type burstFigures struct {
	Size    burstSize
	Updates int           // pod UPDATEs the test wrote
	Writing time.Duration // first UPDATE sent to last one returned
	// The OOM UPDATEs returned between FirstOOM and LastOOM.
	FirstOOM, LastOOM time.Duration

	// The pod watcher's UPDATE outcomes during the burst.
	Sent, Unchanged, NoStream int
	// The EventSource's publishes during the burst.
	Published                 int
	FirstPublish, LastPublish time.Duration

	Jobs              int      // Jobs for the burst's pods
	Pods              int      // distinct pods they were created for
	Stray, Missing    []string // Jobs for pods that did not OOM; OOMKilled pods without a Job
	FirstJob, LastJob time.Duration
	Lags              []time.Duration // OOM UPDATE returned → Job seen, sorted

	// By service name: resident memory before the burst (pods created,
	// none updated yet), peak RSS and CPU seconds over the whole run.
	IdleMiB, PeakMiB, CPUSeconds map[string]float64
}

// shard is one pod of the burst and, if it OOMs, when its OOM was written.
type shard struct {
	pod     *corev1.Pod
	oom     bool
	running chan struct{} // closed once its Running status is written
	oomAt   time.Time
}

// runBurst runs one burst through a fresh pipeline and returns its figures.
func runBurst(tb testing.TB, size burstSize) burstFigures {
	tb.Helper()
	p := startPipelineWith(tb, pipelineOptions{NoController: true, PeakRSS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	tmpl := support.ReadPod(tb, burstPodFile)
	tmpl.Labels[workflowLabel] = burstWorkflow
	tmpl.OwnerReferences = nil // no Workflow behind it

	// Every stride-th shard OOMs (when: see burstSize).
	shards := make([]*shard, size.Shards)
	stride := max(size.Shards/size.OOMs, 1)
	created := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(burstWriters)
	for i := range shards {
		shards[i] = &shard{oom: i%stride == 0 && i/stride < size.OOMs, running: make(chan struct{})}
		g.Go(func() (err error) {
			shards[i].pod, err = p.createShard(gctx, tmpl, fmt.Sprintf("burst-%05d", i))
			return err
		})
	}
	must(tb, g.Wait())
	tb.Logf("%d shard pods created in %s", size.Shards, ms(time.Since(created)))

	f := burstFigures{Size: size, Updates: size.Shards * updatesPerShard, IdleMiB: map[string]float64{}}
	for _, proc := range burstProcesses {
		rss, err := p.Services.RSSMiB(proc.Service)
		must(tb, err)
		f.IdleMiB[proc.Service] = rss
	}
	before := p.watcherCounts(tb, ctx)
	published, _ := p.Logs.count(podsSource, publishedLine)
	began := time.Now()
	must(tb, p.playBurst(ctx, shards, size.Spread))
	f.Writing = time.Since(began)
	f.FirstOOM = f.Writing
	for _, s := range shards {
		if s.oom {
			f.FirstOOM, f.LastOOM = min(f.FirstOOM, s.oomAt.Sub(began)), max(f.LastOOM, s.oomAt.Sub(began))
		}
	}

	// Every UPDATE reached the watcher, every one it sent was published.
	var after map[string]int
	support.Eventually(tb, "the pod watcher to handle every UPDATE", 30*time.Minute, func(ctx context.Context) (bool, error) {
		after = p.watcherCounts(tb, ctx)
		return after["sent"]+after["unchanged"]+after["no-stream"]-before["sent"]-before["unchanged"]-before["no-stream"] >= f.Updates, nil
	})
	f.Sent, f.Unchanged, f.NoStream = after["sent"]-before["sent"], after["unchanged"]-before["unchanged"], after["no-stream"]-before["no-stream"]
	support.Eventually(tb, "the EventSource to publish every event sent", 30*time.Minute, support.Holds(func() bool {
		n, _ := p.Logs.count(podsSource, publishedLine)
		return n-published >= f.Sent
	}))
	times := p.Logs.times(podsSource, publishedLine)[published:]
	f.Published = len(times)
	f.FirstPublish, f.LastPublish = times[0].Sub(began), times[len(times)-1].Sub(began)

	// The Sensor handles the EventBus's messages one at a time, in order
	// (argo-events v1.9.10's JetStream trigger connection fetches one,
	// processes it, acks it), and the Job informer delivers creations in
	// order: once the Job of a last OOM, written after everything was
	// published, is seen, the burst has no Job still to come.
	sentinel, err := p.createShard(ctx, tmpl, sentinelShard)
	must(tb, err)
	must(tb, p.playShard(ctx, &shard{pod: sentinel, oom: true, running: make(chan struct{})}))
	support.Eventually(tb, "the Jobs of the burst", 30*time.Minute, support.Holds(func() bool {
		return slices.ContainsFunc(p.Jobs.runsNow(), func(r jobRun) bool { return r.Pod == sentinel.Name })
	}))
	f.count(shards, p.Jobs.runsNow(), began)

	// Stopped now, the processes write their peak RSS (the pipeline's
	// cleanup reports any error of the stop).
	p.Services.Stop()
	f.PeakMiB, f.CPUSeconds = map[string]float64{}, map[string]float64{}
	for _, proc := range burstProcesses {
		f.PeakMiB[proc.Service] = p.Services.PeakMiB(tb, proc.Service)
		f.CPUSeconds[proc.Service] = p.Services.CPUSeconds(tb, proc.Service)
	}
	return f
}

// createShard creates a copy of tmpl named name with a node ID of its own;
// the API server starts it Pending without container statuses.
func (p *pipeline) createShard(ctx context.Context, tmpl *corev1.Pod, name string) (*corev1.Pod, error) {
	pod := tmpl.DeepCopy()
	pod.Name = name
	pod.Annotations[nodeIDKey] = burstWorkflow + "-" + name
	pod.Status = corev1.PodStatus{}
	return p.C.Kube.CoreV1().Pods(p.NS).Create(ctx, pod, metav1.CreateOptions{})
}

// playBurst plays every shard with burstWriters concurrent writers, the
// OOMs spread or in one wave (burstSize).
func (p *pipeline) playBurst(ctx context.Context, shards []*shard, spread bool) error {
	order := shards
	var ooms []*shard
	if !spread {
		// The shards that OOM start first, so that they run when the wave
		// comes; the wave writes their end.
		order = nil
		for _, s := range shards {
			if s.oom {
				ooms = append(ooms, s)
			}
		}
		for _, s := range shards {
			if !s.oom {
				order = append(order, s)
			}
		}
		order = append(slices.Clone(ooms), order...)
	}
	healthy := int64(len(shards) - len(ooms))
	var healthyDone atomic.Int64
	halfway := make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan *shard)
	g.Go(func() error {
		defer close(work)
		for _, s := range order {
			select {
			case work <- s:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range burstWriters {
		g.Go(func() error {
			for s := range work {
				if s.oom && !spread {
					if err := p.startShard(gctx, s); err != nil {
						return err
					}
					continue
				}
				if err := p.playShard(gctx, s); err != nil {
					return err
				}
				if !s.oom && healthyDone.Add(1) == (healthy+1)/2 {
					close(halfway)
				}
			}
			return nil
		})
	}
	if len(ooms) > 0 {
		g.Go(func() error {
			select {
			case <-halfway:
			case <-gctx.Done():
				return gctx.Err()
			}
			wave, wctx := errgroup.WithContext(gctx)
			wave.SetLimit(burstWriters)
			for _, s := range ooms {
				wave.Go(func() error {
					select {
					case <-s.running:
					case <-wctx.Done():
						return wctx.Err()
					}
					return p.endShard(wctx, s)
				})
			}
			return wave.Wait()
		})
	}
	return g.Wait()
}

// playShard writes the shard's life as the kubelet and the controller
// would: init running (Pending), every container running, then Succeeded
// or main OOMKilled with wait killed (what fires the Sensor), then the
// controller's completed label. Each write sends the object the previous
// one returned: no GET, one UPDATE per step.
func (p *pipeline) playShard(ctx context.Context, s *shard) error {
	if err := p.startShard(ctx, s); err != nil {
		return err
	}
	return p.endShard(ctx, s)
}

// startShard writes the Pending and Running statuses.
func (p *pipeline) startShard(ctx context.Context, s *shard) error {
	for _, step := range []func(*corev1.Pod, time.Time){kubelet.Initializing, kubelet.Running} {
		if err := p.writeStatus(ctx, s, step); err != nil {
			return err
		}
	}
	close(s.running)
	return nil
}

// endShard writes the terminal status, then the completed label.
func (p *pipeline) endShard(ctx context.Context, s *shard) error {
	terminal := kubelet.Succeeded
	if s.oom {
		terminal = kubelet.OOMKilled(kubelet.WaitKilled)
	}
	if err := p.writeStatus(ctx, s, terminal); err != nil {
		return err
	}
	if s.oom {
		s.oomAt = time.Now()
	}
	s.pod.Labels[completedLabel] = "true"
	_, err := p.C.Kube.CoreV1().Pods(p.NS).Update(ctx, s.pod, metav1.UpdateOptions{})
	return err
}

func (p *pipeline) writeStatus(ctx context.Context, s *shard, step func(*corev1.Pod, time.Time)) error {
	step(s.pod, time.Now())
	pod, err := p.C.Kube.CoreV1().Pods(p.NS).UpdateStatus(ctx, s.pod, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("pod %s: %w", s.pod.Name, err)
	}
	s.pod = pod
	return nil
}

// watcherCounts reads the pod watcher's UPDATE outcomes from its /metrics.
func (p *pipeline) watcherCounts(tb testing.TB, ctx context.Context) map[string]int {
	tb.Helper()
	m, err := support.Scrape(ctx, p.WatcherMetrics)
	must(tb, err)
	out := map[string]int{}
	for _, outcome := range []string{"sent", "unchanged", "no-stream"} {
		v, _ := m.Value(watcherEvents, "type", "UPDATE", "outcome", outcome)
		out[outcome] = int(v)
	}
	return out
}

// count matches the Jobs (the sentinel's left out) with the shards.
func (f *burstFigures) count(shards []*shard, runs []jobRun, began time.Time) {
	byPod := map[string][]jobRun{}
	for _, r := range runs {
		if r.Pod != sentinelShard {
			byPod[r.Pod] = append(byPod[r.Pod], r)
			f.Jobs++
		}
	}
	f.Pods = len(byPod)
	first, last := time.Time{}, time.Time{}
	for _, s := range shards {
		js := byPod[s.pod.Name]
		switch {
		case !s.oom && len(js) > 0:
			f.Stray = append(f.Stray, s.pod.Name)
		case s.oom && len(js) == 0:
			f.Missing = append(f.Missing, s.pod.Name)
		}
		for _, j := range js {
			if first.IsZero() || j.Seen.Before(first) {
				first = j.Seen
			}
			last = later(last, j.Seen)
			if s.oom {
				f.Lags = append(f.Lags, j.Seen.Sub(s.oomAt))
			}
		}
	}
	slices.Sort(f.Lags)
	f.FirstJob, f.LastJob = first.Sub(began), last.Sub(began)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[max(int(math.Ceil(q*float64(len(sorted))))-1, 0)]
}

// check asserts what does not depend on timing: one Job per OOMKilled
// shard and none for the others, and every UPDATE accounted for by the
// pod watcher (the label churn dropped, the rest sent and published).
func (f burstFigures) check(tb testing.TB) {
	tb.Helper()
	if f.Jobs != f.Size.OOMs || f.Pods != f.Size.OOMs {
		tb.Errorf("%d Jobs for %d distinct pods, want %d for %d OOMKilled pods", f.Jobs, f.Pods, f.Size.OOMs, f.Size.OOMs)
	}
	if len(f.Missing) > 0 {
		tb.Errorf("OOMKilled pods without a Job: %v", f.Missing)
	}
	if len(f.Stray) > 0 {
		tb.Errorf("Jobs for pods that did not OOM: %v", f.Stray)
	}
	if want := f.Size.Shards * sentPerShard; f.Sent != want || f.Unchanged != f.Size.Shards || f.NoStream != 0 {
		tb.Errorf("pod watcher: %d UPDATEs sent, %d unchanged, %d without a stream; want %d, %d, 0",
			f.Sent, f.Unchanged, f.NoStream, want, f.Size.Shards)
	}
	if f.Published != f.Sent {
		tb.Errorf("the EventSource published %d events for %d sent", f.Published, f.Sent)
	}
}

// metric is one figure as b.ReportMetric takes it.
type metric struct {
	Unit  string
	Value float64
}

// metrics are the figures as benchmark metrics.
func (f burstFigures) metrics() []metric {
	out := []metric{
		{"updates/s", float64(f.Updates) / f.Writing.Seconds()},
		{"published/s", float64(f.Published) / (f.LastPublish - f.FirstPublish).Seconds()},
		{"updates-unchanged", float64(f.Unchanged)},
		{"events-published", float64(f.Published)},
		{"jobs", float64(f.Jobs)},
		{"jobs-missing", float64(len(f.Missing))},
		{"jobs-stray", float64(len(f.Stray))},
		{"lag-p50-s", quantile(f.Lags, 0.5).Seconds()},
		{"lag-p99-s", quantile(f.Lags, 0.99).Seconds()},
		{"lag-max-s", quantile(f.Lags, 1).Seconds()},
		{"jobs-span-s", (f.LastJob - f.FirstJob).Seconds()},
	}
	for _, proc := range burstProcesses {
		out = append(out, metric{proc.Metric, f.PeakMiB[proc.Service]})
	}
	return out
}

// table is the figures for a reader, with where the time goes.
func (f burstFigures) table() string {
	var b strings.Builder
	row := func(what, format string, args ...any) {
		fmt.Fprintf(&b, "  %-44s "+format+"\n", append([]any{what}, args...)...)
	}
	fmt.Fprintf(&b, "burst of %d shard pods, %d OOMKilled (times since the first UPDATE):\n", f.Size.Shards, f.Size.OOMs)
	row("pod UPDATEs written", "%d in %s (%.0f/s, %d clients)", f.Updates, ms(f.Writing), float64(f.Updates)/f.Writing.Seconds(), burstWriters)
	shape := "in one wave"
	if f.Size.Spread {
		shape = "spread"
	}
	row("OOM UPDATEs ("+shape+") returned", "from %s to %s", ms(f.FirstOOM), ms(f.LastOOM))
	row("pod watcher: sent / unchanged / no stream", "%d / %d / %d", f.Sent, f.Unchanged, f.NoStream)
	row("EventSource published", "%d, first at %s, last at %s (%.0f/s)", f.Published, ms(f.FirstPublish), ms(f.LastPublish),
		float64(f.Published)/(f.LastPublish-f.FirstPublish).Seconds())
	row("Jobs (distinct pods)", "%d (%d); missing %d, stray %d", f.Jobs, f.Pods, len(f.Missing), len(f.Stray))
	// argo-events paces a trigger with go.uber.org/ratelimit: 5/s, of which
	// up to 10 unspent after a quiet spell may go at once.
	row("first / last Job at", "%s / %s (span %s; rateLimit 5/s alone: >= %s)", ms(f.FirstJob), ms(f.LastJob),
		ms(f.LastJob-f.FirstJob), ms(time.Duration(max(f.Jobs-11, 0))*time.Second/5))
	row("OOM UPDATE -> Job seen: p50 / p99 / max", "%s / %s / %s", ms(quantile(f.Lags, 0.5)), ms(quantile(f.Lags, 0.99)), ms(quantile(f.Lags, 1)))
	for _, proc := range burstProcesses {
		row("RSS "+proc.Service+": before / peak", "%.1f / %.1f MiB", f.IdleMiB[proc.Service], f.PeakMiB[proc.Service])
		row("CPU "+proc.Service+" (whole run)", "%.1f s", f.CPUSeconds[proc.Service])
	}
	return b.String()
}

// TestEventPathBurst: a reduced burst in every run (500 shards, about
// 2,000 UPDATEs, 20 OOMs). It asserts only what does not depend on the
// machine (exactly one Job per OOMKilled shard, none for the others, every
// UPDATE accounted for) and logs the figures; BenchmarkEventPathBurst is the
// full-size measurement.
func TestEventPathBurst(t *testing.T) {
	f := runBurst(t, burstSize{Shards: 500, OOMs: 20})
	t.Log("\n" + f.table())
	f.check(t)
}

// BenchmarkEventPathBurst: 5,000 shard pods (20,000 UPDATEs), 200 OOMs, or
// PIPELINE_BURST_SHARDS / PIPELINE_BURST_OOMS, the OOMs in one wave or, with
// PIPELINE_BURST_SPREAD set, spread (burstSize). One burst per run whatever
// b.N (it takes minutes: run it with -benchtime 1x), its figures reported
// as metrics for cmd/benchtable:
//
//	go test -run '^$' -bench BenchmarkEventPathBurst -benchtime 1x -timeout 60m ./pipeline/
func BenchmarkEventPathBurst(b *testing.B) {
	size := burstSize{Shards: support.EnvInt(b, "PIPELINE_BURST_SHARDS", 5000), OOMs: support.EnvInt(b, "PIPELINE_BURST_OOMS", 200)}
	_, size.Spread = os.LookupEnv("PIPELINE_BURST_SPREAD")
	if size.OOMs >= size.Shards {
		b.Fatalf("%d OOMs for %d shards: some must succeed", size.OOMs, size.Shards)
	}
	f := runBurst(b, size)
	// To stdout, not b.Log: without -v, go test cuts a benchmark's log
	// to its first 10 lines.
	fmt.Print(f.table())
	f.check(b)
	for _, m := range f.metrics() {
		b.ReportMetric(m.Value, m.Unit)
	}
}
