package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// jobRun is one Job the Sensor created and what became of it.
type jobRun struct {
	Name     string
	Workflow string // label argo-oom-remediator.io/workflow
	Reason   string // label argo-oom-remediator.io/reason
	Pod      string // REMEDIATOR_POD_NAME, REMEDIATOR_POD_UID of its container
	PodUID   string
	Seen     time.Time // the Job appeared
	Started  time.Time // its process started (a run slot was free)
	Done     time.Time
	ExitCode int
	Err      error
	LogPath  string
}

// jobRunner plays the Job controller and the kubelet for the Jobs of one
// namespace: every Job that appears is run once, as a local process of the
// remediator binary, with the container's environment (envFrom ConfigMaps
// resolved from the API server, then env) and a kubeconfig holding a token
// of the pod's ServiceAccount, so the remediator works under its shipped
// Role. At most `parallel` Jobs run at once, like a small node; with
// parallel 0 the Jobs are only recorded, never run.
type jobRunner struct {
	c      *cluster.Cluster
	ns     string
	bin    string
	dir    string
	slots  chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
	tokens sync.Map // ServiceAccount name -> kubeconfig path

	mu      sync.Mutex
	runs    map[string]*jobRun
	changed chan struct{}
}

func startJobRunner(c *cluster.Cluster, ns, bin, dir string, parallel int) (*jobRunner, error) {
	r := &jobRunner{c: c, ns: ns, bin: bin, dir: dir, slots: make(chan struct{}, parallel), stop: make(chan struct{}),
		runs: map[string]*jobRun{}, changed: make(chan struct{})}
	f := informers.NewSharedInformerFactoryWithOptions(c.Kube, 0, informers.WithNamespace(ns))
	inf := f.Batch().V1().Jobs().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if job, ok := obj.(*batchv1.Job); ok {
			r.add(job)
		}
	}}); err != nil {
		return nil, err
	}
	f.Start(r.stop)
	if !cache.WaitForCacheSync(r.stop, inf.HasSynced) {
		return nil, errors.New("job informer never synced")
	}
	return r, nil
}

func (r *jobRunner) add(job *batchv1.Job) {
	run := &jobRun{Name: job.Name, Workflow: job.Labels["argo-oom-remediator.io/workflow"],
		Reason: job.Labels["argo-oom-remediator.io/reason"], Seen: time.Now()}
	for _, c := range job.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			switch e.Name {
			case "REMEDIATOR_POD_NAME":
				run.Pod = e.Value
			case "REMEDIATOR_POD_UID":
				run.PodUID = e.Value
			}
		}
	}
	r.update(func() { r.runs[job.Name] = run })
	if cap(r.slots) == 0 {
		return // record only
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case r.slots <- struct{}{}:
		case <-r.stop:
			return
		}
		defer func() { <-r.slots }()
		r.update(func() { run.Started = time.Now() })
		code, path, err := r.run(job)
		r.update(func() { run.Done, run.ExitCode, run.LogPath, run.Err = time.Now(), code, path, err })
	}()
}

func (r *jobRunner) update(change func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	change()
	close(r.changed)
	r.changed = make(chan struct{})
}

// snapshot returns the runs so far (by time seen) and a channel closed on
// the next change.
func (r *jobRunner) snapshot() ([]jobRun, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]jobRun, 0, len(r.runs))
	for _, run := range r.runs {
		out = append(out, *run)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seen.Before(out[j].Seen) })
	return out, r.changed
}

func (r *jobRunner) runsNow() []jobRun {
	runs, _ := r.snapshot()
	return runs
}

// run runs the Job's only container and returns its exit code.
func (r *jobRunner) run(job *batchv1.Job) (int, string, error) {
	deadline := 10 * time.Minute
	if d := job.Spec.ActiveDeadlineSeconds; d != nil {
		deadline = time.Duration(*d) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	spec := job.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		return 0, "", fmt.Errorf("job %s: %d containers", job.Name, len(spec.Containers))
	}
	env, err := r.env(ctx, spec.Containers[0].EnvFrom, spec.Containers[0].Env)
	if err != nil {
		return 0, "", fmt.Errorf("job %s: %w", job.Name, err)
	}
	kubeconfig, err := r.kubeconfig(ctx, spec.ServiceAccountName)
	if err != nil {
		return 0, "", fmt.Errorf("job %s: %w", job.Name, err)
	}
	env = append(env, "REMEDIATOR_KUBECONFIG="+kubeconfig)
	logPath := filepath.Join(r.dir, "job-"+job.Name+".log")
	out, err := os.Create(logPath)
	if err != nil {
		return 0, "", err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, r.bin)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, out, out, r.dir
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), logPath, nil
	}
	return 0, logPath, err
}

// env resolves the container environment as the kubelet does: envFrom
// sources in order, then env (later entries win).
func (r *jobRunner) env(ctx context.Context, from []corev1.EnvFromSource, vars []corev1.EnvVar) ([]string, error) {
	var env []string
	for _, f := range from {
		if f.ConfigMapRef == nil {
			return nil, fmt.Errorf("unsupported envFrom %+v", f)
		}
		cm, err := r.c.Kube.CoreV1().ConfigMaps(r.ns).Get(ctx, f.ConfigMapRef.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(cm.Data))
		for k := range cm.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			env = append(env, f.Prefix+k+"="+cm.Data[k])
		}
	}
	for _, v := range vars {
		if v.ValueFrom != nil {
			return nil, fmt.Errorf("unsupported valueFrom in %s", v.Name)
		}
		env = append(env, v.Name+"="+v.Value)
	}
	return env, nil
}

// kubeconfig returns a kubeconfig with a token of ServiceAccount sa.
func (r *jobRunner) kubeconfig(ctx context.Context, sa string) (string, error) {
	if p, ok := r.tokens.Load(sa); ok {
		return p.(string), nil
	}
	cfg, err := r.c.ServiceAccountConfig(ctx, r.ns, sa)
	if err != nil {
		return "", err
	}
	kc, err := cluster.KubeConfigFor(cfg)
	if err != nil {
		return "", err
	}
	path := filepath.Join(r.dir, "kubeconfig-sa-"+sa)
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		return "", err
	}
	p, _ := r.tokens.LoadOrStore(sa, path)
	return p.(string), nil
}

// Stop stops the informer, kills running Jobs and waits for them.
func (r *jobRunner) Stop() {
	close(r.stop)
	r.wg.Wait()
}
