package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

const (
	controllerVersion = "v3.5.8"
	namespace         = "data-team"
	// stuckWindow is how long the demo shows the workflow stuck. v3.5.8
	// never recovers by itself; the window only keeps the demo short.
	stuckWindow = 15 * time.Second
	grace       = "10s"
)

func run(ctx context.Context, out io.Writer) error {
	tl := &timeline{w: out, start: time.Now()}
	root, err := cluster.RepoRoot()
	if err != nil {
		return err
	}
	remediatorBin := filepath.Join(root, "bin", "remediator")
	if _, err := os.Stat(remediatorBin); err != nil {
		return fmt.Errorf("%s missing: run `make demo` (it builds it)", remediatorBin)
	}
	work, err := os.MkdirTemp("", "argo-oom-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	c, err := cluster.Launch(ctx, cluster.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the local cluster:", err)
		}
	}()
	sv, err := c.Kube.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("asking the local kube-apiserver its version: %w", err)
	}
	tl.step("local cluster up: kube-apiserver %s + etcd on 127.0.0.1, Argo CRDs installed", sv.GitVersion)
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	ctl, err := argo.Start(ctx, c, controllerVersion, namespace, work)
	if err != nil {
		return err
	}
	defer ctl.Stop()
	tl.step("Argo Workflows controller %s running (namespace %s)", controllerVersion, namespace)

	wf, err := c.Argo.ArgoprojV1alpha1().Workflows(namespace).Create(ctx, workflow(), metav1.CreateOptions{})
	if err != nil {
		return err
	}
	tl.step("submitted workflow %s/%s (one step, memory limit 64Mi)", namespace, wf.Name)
	pod, err := waitForPod(ctx, c, wf.Name)
	if err != nil {
		return err
	}
	nodeID := pod.Annotations["workflows.argoproj.io/node-id"]
	k := kubelet.Kubelet{Kube: c.Kube, Argo: c.Argo}
	if _, err := k.Start(ctx, namespace, pod.Name); err != nil {
		return err
	}
	if _, err := k.InitializeOutput(ctx, wf, nodeID); err != nil {
		return err
	}
	if err := nodeReaches(ctx, c, wf.Name, nodeID, func(p wfv1.NodePhase) bool { return p == wfv1.NodeRunning }); err != nil {
		return fmt.Errorf("the controller never saw the pod run: %w", err)
	}
	tl.step("pod %s running; its wait container created WorkflowTaskResult %s (report-outputs-completed=false)", pod.Name, nodeID)

	if _, err := k.OOMKill(ctx, namespace, pod.Name, kubelet.WaitKilled); err != nil {
		return err
	}
	tl.step("kubelet: container main OOMKilled (exit 137); wait killed with it (exit 137) before finalizing")
	if err := nodeReaches(ctx, c, wf.Name, nodeID, wfv1.NodePhase.Completed); err != nil {
		return fmt.Errorf("the controller never marked the node: %w", err)
	}
	got, _ := c.Argo.ArgoprojV1alpha1().Workflows(namespace).Get(ctx, wf.Name, metav1.GetOptions{})
	tl.step("controller: node %s is %s (%q), workflow is %s", nodeID, got.Status.Nodes[nodeID].Phase, got.Status.Nodes[nodeID].Message, got.Status.Phase)
	if err := k.Delete(ctx, namespace, pod.Name); err != nil {
		return err
	}
	stuckSince := time.Now()
	tl.step("pod garbage-collected")
	if err := stillRunning(ctx, c, wf.Name, stuckWindow); err != nil {
		return err
	}
	tl.step("workflow still %s %s later: stuck (taskResultsCompletionStatus[%s]=false; v3.5.8 never recovers)",
		wfv1.WorkflowRunning, stuckWindow, nodeID)

	s, err := startSink()
	if err != nil {
		return err
	}
	defer s.close()
	tl.step("running the remediator as the Sensor's Job would (REMEDIATOR_REASON=OOMKilled, sink %s)", s.url)
	code, logs, err := runRemediator(ctx, c, remediatorBin, work, s.url, wf.Name, nodeID, pod)
	if err != nil {
		return err
	}
	for _, l := range logs {
		tl.detail("%s", l)
	}
	tl.step("remediator exited %d", code)

	if err := until(ctx, 2*time.Minute, func() (bool, error) {
		got, err = c.Argo.ArgoprojV1alpha1().Workflows(namespace).Get(ctx, wf.Name, metav1.GetOptions{})
		return err == nil && got.Status.Phase.Completed(), err
	}); err != nil {
		return fmt.Errorf("the workflow did not end after the remediation: %w", err)
	}
	tl.step("workflow %s: %s, %.0fs after it got stuck (without the remediator: never)", wf.Name, got.Status.Phase, time.Since(stuckSince).Seconds())
	evs, err := c.Kube.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + wf.Name})
	if err != nil {
		return err
	}
	for _, e := range evs.Items {
		if e.Source.Component == "argo-oom-remediator" {
			tl.step("Kubernetes Event on the workflow: %s %s: %s", e.Type, e.Reason, e.Message)
		}
	}
	select {
	case ev := <-s.received:
		tl.step("CloudEvent received by the sink (Content-Type %s):", ev.contentType)
		fmt.Fprintln(out, "          "+pretty(ev.body))
	default:
		return fmt.Errorf("the sink received no CloudEvent")
	}
	if code != 0 {
		return fmt.Errorf("the remediator exited %d", code)
	}
	tl.step("stopping the controller and the cluster")
	return nil
}

func workflow() *wfv1.Workflow {
	return &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: "etl-nightly", Namespace: namespace},
		Spec: wfv1.WorkflowSpec{Entrypoint: "transform", Templates: []wfv1.Template{{
			Name: "transform",
			Container: &corev1.Container{Image: "python:3.12-slim", Command: []string{"python", "-c", "x = bytearray(512 << 20)"},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}},
		}}},
	}
}

func waitForPod(ctx context.Context, c *cluster.Cluster, wfName string) (*corev1.Pod, error) {
	var pod *corev1.Pod
	err := until(ctx, time.Minute, func() (bool, error) {
		pods, err := c.Kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow=" + wfName})
		if err != nil || len(pods.Items) == 0 {
			return false, err
		}
		pod = &pods.Items[0]
		return true, nil
	})
	return pod, err
}

// nodeReaches waits until the node's phase satisfies ok.
func nodeReaches(ctx context.Context, c *cluster.Cluster, wfName, nodeID string, ok func(wfv1.NodePhase) bool) error {
	return until(ctx, time.Minute, func() (bool, error) {
		got, err := c.Argo.ArgoprojV1alpha1().Workflows(namespace).Get(ctx, wfName, metav1.GetOptions{})
		return err == nil && ok(got.Status.Nodes[nodeID].Phase), err
	})
}

// stillRunning checks, for the whole window, that the workflow stays Running.
func stillRunning(ctx context.Context, c *cluster.Cluster, wfName string, window time.Duration) error {
	deadline := time.Now().Add(window)
	return until(ctx, window+5*time.Second, func() (bool, error) {
		got, err := c.Argo.ArgoprojV1alpha1().Workflows(namespace).Get(ctx, wfName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if got.Status.Phase != wfv1.WorkflowRunning {
			return false, fmt.Errorf("the workflow ended by itself (%s): the bug did not reproduce", got.Status.Phase)
		}
		return time.Now().After(deadline), nil
	})
}

func until(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) { return cond() })
}

// runRemediator runs the binary with a Job's environment and returns its
// exit code and the log lines worth showing.
func runRemediator(ctx context.Context, c *cluster.Cluster, bin, work, sinkURL, wfName, nodeID string, pod *corev1.Pod) (int, []string, error) {
	kc, err := c.KubeConfig()
	if err != nil {
		return 0, nil, err
	}
	kubeconfig := filepath.Join(work, "remediator-kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return 0, nil, err
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		"REMEDIATOR_KUBECONFIG=" + kubeconfig,
		"REMEDIATOR_NAMESPACE=" + namespace, "REMEDIATOR_WORKFLOW=" + wfName, "REMEDIATOR_NODE_ID=" + nodeID,
		"REMEDIATOR_POD_NAME=" + pod.Name, "REMEDIATOR_POD_UID=" + string(pod.UID), "REMEDIATOR_REASON=OOMKilled",
		"REMEDIATOR_GRACE_PERIOD=" + grace, "REMEDIATOR_SINK_URL=" + sinkURL, "REMEDIATOR_CLUSTER_NAME=demo",
		"REMEDIATOR_ARGO_UI_URL=https://argo.example.com", "REMEDIATOR_LOG_FORMAT=text",
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err = cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		return 0, nil, err
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.Contains(l, "notification") {
			continue // the event is printed whole below
		}
		if i := strings.Index(l, "msg="); i >= 0 {
			l = l[i:]
		}
		lines = append(lines, "remediator: "+l)
	}
	return code, lines, nil
}
