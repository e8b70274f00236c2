package rescue

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/packer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/fixtures"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
)

// BenchmarkRemediatorLargeWorkflow runs the real remediator binary, built as
// shipped, against the real API server on an OOMKilled node (wait container
// killed) of a workflow of 1 to 10,000 nodes, stored the way Argo's
// controller stores it: its own packer (workflow/packer, MAX_WORKFLOW_SIZE
// 1 MiB) decides inline or compressed. The case "inline-max" is the largest
// node count the packer still keeps in status.nodes. A stand-in for the
// controller ends the workflow only once the remediator watches it, so every
// run also receives the whole grown object as a watch event, as it would
// from a real controller writing the workflow during verify.
//
// Reported per run: the process's peak RSS (its own Maxrss, see
// peakRSSHelper; mean and max), wall time, time from start to its write of
// the task result, the bytes the API server sent it (response bodies as on
// the wire, gzip where the API server compresses; watch streams included),
// its requests, and the size of the status and of the whole object (JSON).
// Issue 11: the Job's memory limit must hold the 10,000-node case with at
// least 25 % headroom.
func BenchmarkRemediatorLargeWorkflow(b *testing.B) {
	probe := &runProbe{}
	proxy := support.NewProxy(b, env.Config)
	proxy.Intercept(func(_ http.ResponseWriter, r *http.Request, _ support.Request) bool { probe.observe(r); return false })
	rss := support.NewPeakRSS(b, b.TempDir())

	for _, tc := range []struct {
		name  string
		nodes int // inlineMax, compressedMax: as many as the packer keeps so
	}{
		{"nodes=1", 1}, {"nodes=100", 100}, {"nodes=1000", 1000}, {"nodes=inline-max", inlineMax},
		{"nodes=5000", 5000}, {"nodes=10000", 10000}, {"nodes=compressed-max", compressedMax},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var rssMiB, rssMaxMiB, wallMs, writeMs, kibRead, requests, statusKiB, objectKiB, nodes float64
			storage := ""
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ctx, cancel := context.WithCancel(context.Background())
				s := newScenario(b, wfv1.NodeRunning, fixtures.Bool(false))
				s.InitializeOutput()
				s.OOMKill(kubelet.WaitKilled)
				s.MarkNode(wfv1.NodeFailed, "OOMKilled (exit code 137)")
				st := grow(s, tc.nodes)
				storage, nodes = st.storage, float64(st.nodes)
				statusKiB += float64(st.statusBytes) / 1024
				objectKiB += float64(st.objectBytes) / 1024

				proxy.Take()
				watched := probe.arm(s.NS, s.WF.Name)
				go func() {
					select {
					case <-watched:
						s.StandInForController(ctx, time.Minute)
					case <-ctx.Done():
					}
				}()
				cmd := rss.Command(env.Binary)
				cmd.Env = s.Env(proxy.Config(), "", map[string]string{"REMEDIATOR_VERIFY_TIMEOUT": "30s",
					"GODEBUG": os.Getenv("BENCH_GODEBUG")})
				b.StartTimer()
				began := time.Now()
				out, err := cmd.CombinedOutput()
				wall := time.Since(began)
				b.StopTimer()
				cancel()
				if err != nil {
					b.Fatalf("remediator: %v\n%s", err, out)
				}
				if !strings.Contains(string(out), `"outcome":"remediated"`) {
					b.Fatalf("the run did not end remediated (verified):\n%s", out)
				}
				if os.Getenv("BENCH_GODEBUG") != "" {
					b.Logf("%s", out)
				}
				proxy.Settle(b)
				c := proxy.Take()
				requests += float64(c.Requests)
				kibRead += float64(c.Bytes) / 1024
				peak := rss.MiB(b)
				rssMiB, rssMaxMiB = rssMiB+peak, max(rssMaxMiB, peak)
				wallMs += float64(wall.Microseconds()) / 1000
				writeMs += float64(probe.wroteAt().Sub(began).Microseconds()) / 1000
			}
			n := float64(b.N)
			b.Logf("%s: %.0f nodes, %s", tc.name, nodes, storage)
			b.ReportMetric(nodes, "nodes")
			b.ReportMetric(statusKiB/n, "status-KiB")
			b.ReportMetric(objectKiB/n, "object-KiB")
			b.ReportMetric(rssMiB/n, "peak-RSS-MiB")
			b.ReportMetric(rssMaxMiB, "peak-RSS-MiB-max")
			b.ReportMetric(wallMs/n, "ms-wall")
			b.ReportMetric(writeMs/n, "ms-to-write")
			b.ReportMetric(kibRead/n, "KiB-read/op")
			b.ReportMetric(requests/n, "requests/op")
		})
	}
}

// runProbe follows one run's requests at the proxy: it closes the channel
// arm returns at the first watch of the workflow, and notes when the task
// result is first written (the remediator's own work ends there; what
// follows is verify waiting for the controller).
type runProbe struct {
	mu       sync.Mutex
	ns, name string
	watched  chan struct{}
	wrote    time.Time
}

func (p *runProbe) arm(ns, name string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ns, p.name, p.watched, p.wrote = ns, name, make(chan struct{}), time.Time{}
	return p.watched
}

func (p *runProbe) wroteAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wrote
}

func (p *runProbe) observe(r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q, prefix := r.URL.Query(), "/apis/argoproj.io/v1alpha1/namespaces/"+p.ns+"/"
	if r.Method != http.MethodGet && p.wrote.IsZero() && strings.HasPrefix(r.URL.Path, prefix+"workflowtaskresults") {
		p.wrote = time.Now()
	}
	if p.watched != nil && q.Get("watch") == "true" && r.URL.Path == prefix+"workflows" &&
		q.Get("fieldSelector") == "metadata.name="+p.name {
		close(p.watched)
		p.watched = nil
	}
}

// grown is how a grown workflow is stored.
type grown struct {
	nodes                    int
	storage                  string // inline or compressed
	statusBytes, objectBytes int
}

// Node counts that grow works out: the most nodes Argo's packer keeps in
// status.nodes, and the most it can still compress under MAX_WORKFLOW_SIZE
// (beyond, the controller offloads them to its database or fails the
// workflow: the object the remediator reads is never larger).
const (
	inlineMax     = -1
	compressedMax = -2
)

// grow gives the scenario's workflow n nodes in all (or inlineMax,
// compressedMax), the scenario's node among them, and stores them as
// Argo's controller would: inline up to MAX_WORKFLOW_SIZE (1 MiB of
// workflow JSON), compressed beyond.
func grow(s *support.Stuck, n int) grown {
	s.T.Helper()
	ctx := context.Background()
	wf, err := env.Argo.ArgoprojV1alpha1().Workflows(s.NS).Get(ctx, s.WF.Name, metav1.GetOptions{})
	if err != nil {
		s.T.Fatal(err)
	}
	switch n {
	case inlineMax:
		n = largest(s, wf, func(c *wfv1.Workflow) (bool, error) {
			large, err := packer.IsLargeWorkflow(c)
			return !large, err
		})
	case compressedMax:
		n = largest(s, wf, func(c *wfv1.Workflow) (bool, error) {
			err := packer.CompressWorkflowIfNeeded(c)
			if packer.IsTooLargeError(err) {
				return false, nil
			}
			return err == nil, err
		})
	}
	for id, node := range dagNodes(wf.Name, n-1) {
		wf.Status.Nodes[id] = node
	}
	if err := packer.CompressWorkflowIfNeeded(wf); err != nil {
		s.T.Fatalf("Argo's packer: %v", err)
	}
	g := grown{nodes: n, storage: "inline"}
	if wf.Status.CompressedNodes != "" {
		g.storage = "compressed"
	}
	if s.WF, err = env.Argo.ArgoprojV1alpha1().Workflows(s.NS).Update(ctx, wf, metav1.UpdateOptions{}); err != nil {
		s.T.Fatalf("storing %d nodes (%s): %v", n, g.storage, err)
	}
	status, _ := json.Marshal(s.WF.Status)
	object, _ := json.Marshal(s.WF)
	g.statusBytes, g.objectBytes = len(status), len(object)
	return g
}

// largest is the largest number of nodes (the scenario's one included)
// with which wf passes fits.
func largest(s *support.Stuck, wf *wfv1.Workflow, fits func(*wfv1.Workflow) (bool, error)) int {
	s.T.Helper()
	return sort.Search(40000, func(n int) bool {
		if n <= 1 {
			return false
		}
		c := wf.DeepCopy()
		for id, node := range dagNodes(wf.Name, n-1) {
			c.Status.Nodes[id] = node
		}
		ok, err := fits(c)
		if err != nil {
			s.T.Fatal(err)
		}
		return !ok
	}) - 1
}

// dagNodes returns n nodes as Argo's controller records a DAG of pod tasks
// that have all succeeded: a DAG node (running: it is held by the scenario's
// node) and n-1 pods, each with its parameter and log artifact, its
// resource durations and the host it ran on.
func dagNodes(wfName string, n int) wfv1.Nodes {
	nodes := wfv1.Nodes{}
	if n <= 0 {
		return nodes
	}
	id := func(name string) string {
		h := fnv.New32a()
		_, _ = h.Write([]byte(name))
		return fmt.Sprintf("%s-%d", wfName, h.Sum32())
	}
	started := metav1.NewTime(time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC))
	dagName := wfName + ".fan-out"
	dag := wfv1.NodeStatus{ID: id(dagName), Name: dagName, DisplayName: "fan-out", Type: wfv1.NodeTypeDAG,
		TemplateName: "fan-out", Phase: wfv1.NodeRunning, StartedAt: started, BoundaryID: wfName}
	for i := range n - 1 {
		name := fmt.Sprintf("%s.fan-out.shard-%d", wfName, i)
		nid := id(name)
		dag.Children = append(dag.Children, nid)
		nodes[nid] = wfv1.NodeStatus{
			ID: nid, Name: name, DisplayName: fmt.Sprintf("shard-%d", i), Type: wfv1.NodeTypePod,
			TemplateName: "shard", TemplateScope: "local/" + wfName, Phase: wfv1.NodeSucceeded, BoundaryID: dag.ID,
			StartedAt: started, FinishedAt: metav1.NewTime(started.Add(time.Duration(40+i%50) * time.Second)),
			Progress: "1/1", HostNodeName: fmt.Sprintf("worker-%02d", i%40),
			ResourcesDuration: wfv1.ResourcesDuration{corev1.ResourceCPU: wfv1.ResourceDuration(12 + i%7),
				corev1.ResourceMemory: wfv1.ResourceDuration(340 + i%31)},
			Outputs: &wfv1.Outputs{
				Parameters: []wfv1.Parameter{{Name: "rows", Value: wfv1.AnyStringPtr(fmt.Sprint(100000 + i*37))}},
				Artifacts: []wfv1.Artifact{{Name: "main-logs", ArtifactLocation: wfv1.ArtifactLocation{
					S3: &wfv1.S3Artifact{Key: fmt.Sprintf("%s/%s-shard-%d/main.log", wfName, wfName, i)}}}},
				ExitCode: ptr.To("0"),
			},
		}
	}
	nodes[dag.ID] = dag
	return nodes
}
