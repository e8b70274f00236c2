package resubmit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/resubmit"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/kubelet"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/slackthread"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// oneStep is a workflow of one container step, main limited (and
// requested) at limit, whose step needs need; opted in or not.
func oneStep(name, limit, need string, optIn bool) *wfv1.Workflow {
	mem := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)}
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Spec: wfv1.WorkflowSpec{Entrypoint: "load", Templates: []wfv1.Template{{
			Name:      "load",
			Metadata:  wfv1.Metadata{Annotations: map[string]string{kubelet.AnnotationNeedsMemory: need}},
			Container: &corev1.Container{Image: "busybox", Command: []string{"true"}, Resources: corev1.ResourceRequirements{Limits: mem, Requests: mem}},
		}}},
	}
	if optIn {
		wf.Labels[resubmit.KeyOptIn] = "true"
	}
	return wf
}

// TestResubmitChainsUnderV358: three workflows OOMKilled at 128Mi under the
// real v3.5.8 controller, with `remediator watch` resubmitting (at most
// 512Mi, 5 attempts):
//   - fits (needs 300Mi, opted in): 128Mi → 192Mi → 320Mi, Succeeded: the
//     chain ends at the first size that fits;
//   - none-fits (needs 2Gi, opted in): 128 → 192 → 320 → 512Mi, then no
//     further workflow and a resubmit-stopped report saying 512Mi is the
//     maximum;
//   - no-opt-in (needs 300Mi): rescued, ends Failed, nothing resubmitted,
//     nothing written on it.
//
// Exactly 8 workflows exist at the end. The Slack thread of each chain is
// rendered from the CloudEvents the run sent and logged.
func TestResubmitChainsUnderV358(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t)
	ctl, err := argo.Start(ctx, env.Cluster, "v3.5.8", ns, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Stop()
	play, stop := context.WithCancel(ctx)
	defer stop()
	playErrs := kubelet.Kubelet{Kube: env.Kube, Argo: env.Argo}.PlayByMemory(play, ns)
	sink := support.NewSink(t, support.SinkAccept)
	w := support.Start(t, env.Binary, support.EnvList(map[string]string{
		"REMEDIATOR_KUBECONFIG": support.Kubeconfig(t, t.TempDir(), "kubeconfig", env.Config), "REMEDIATOR_NAMESPACE": ns,
		"REMEDIATOR_WATCH_INTERVAL": "1s", "REMEDIATOR_METRICS_ADDRESS": "127.0.0.1:0", "REMEDIATOR_SINK_URL": sink.URL(),
		"REMEDIATOR_CLUSTER_NAME": "e2e", "REMEDIATOR_RESUBMIT": "true", "REMEDIATOR_RESUBMIT_MAX_MEMORY": "512Mi",
		"REMEDIATOR_RESUBMIT_MAX_ATTEMPTS": "5", "REMEDIATOR_VERIFY_TIMEOUT": "30s", "REMEDIATOR_LOG_FORMAT": "json",
	}), "watch")
	support.Eventually(t, "the watch to start", 30*time.Second, func(context.Context) (bool, error) {
		return w.Logged("watching") == 1, nil
	})

	wfs := env.Argo.ArgoprojV1alpha1().Workflows(ns)
	for _, wf := range []*wfv1.Workflow{oneStep("fits", "128Mi", "300Mi", true), oneStep("none-fits", "128Mi", "2Gi", true),
		oneStep("no-opt-in", "128Mi", "300Mi", false)} {
		if _, err := wfs.Create(ctx, wf, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	handled := func(list []wfv1.Workflow, name, want string) bool {
		for _, wf := range list {
			if wf.Name == name {
				return wf.Labels[resubmit.LabelHandled] == want
			}
		}
		return false
	}
	var list []wfv1.Workflow
	support.Eventually(t, "both chains to end and the workflow that did not opt in to be seen", 5*time.Minute, func(ctx context.Context) (bool, error) {
		select {
		case err := <-playErrs:
			return false, err
		default:
		}
		l, err := wfs.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		list = l.Items
		notOpted := 0
		for _, line := range support.JSONLines(w.Log()) {
			if line["msg"] == "resubmit: not opted in" && line["workflow"] == "no-opt-in" {
				notOpted++
			}
		}
		return handled(list, "fits-oom-2", "ended") && handled(list, "none-fits-oom-3", "stopped") && notOpted == 1, nil
	})

	// Exactly these workflows, with these limits and phases.
	want := map[string]struct {
		limit string
		phase wfv1.WorkflowPhase
	}{
		"fits": {"128Mi", wfv1.WorkflowFailed}, "fits-oom-1": {"192Mi", wfv1.WorkflowFailed}, "fits-oom-2": {"320Mi", wfv1.WorkflowSucceeded},
		"none-fits": {"128Mi", wfv1.WorkflowFailed}, "none-fits-oom-1": {"192Mi", wfv1.WorkflowFailed},
		"none-fits-oom-2": {"320Mi", wfv1.WorkflowFailed}, "none-fits-oom-3": {"512Mi", wfv1.WorkflowFailed},
		"no-opt-in": {"128Mi", wfv1.WorkflowFailed},
	}
	if len(list) != len(want) {
		t.Errorf("%d workflows, want %d", len(list), len(want))
	}
	for _, wf := range list {
		w, ok := want[wf.Name]
		if !ok {
			t.Errorf("unexpected workflow %s", wf.Name)
			continue
		}
		r := wf.Spec.Templates[0].Container.Resources
		if r.Limits.Memory().String() != w.limit || r.Requests.Memory().String() != w.limit || wf.Status.Phase != w.phase {
			t.Errorf("%s: limit %s, request %s, %s; want %s, %s", wf.Name, r.Limits.Memory(), r.Requests.Memory(), wf.Status.Phase, w.limit, w.phase)
		}
		if root, n, ok := strings.Cut(wf.Name, "-oom-"); ok {
			prev := root
			if n != "1" {
				prev = fmt.Sprintf("%s-oom-%c", root, n[0]-1)
			}
			if wf.Labels[resubmit.LabelChainRoot] != root || wf.Labels[resubmit.LabelChainAttempt] != n ||
				wf.Annotations[resubmit.AnnotationPrevious] != prev || wf.Annotations[resubmit.AnnotationMemory] != w.limit {
				t.Errorf("%s: chain labels %v, annotations %v", wf.Name, wf.Labels, wf.Annotations)
			}
		}
		if wf.Name == "no-opt-in" && (wf.Labels[resubmit.LabelHandled] != "" || wf.Annotations[resubmit.AnnotationReason] != "") {
			t.Errorf("no-opt-in was written: %v %v", wf.Labels, wf.Annotations)
		}
	}

	// The watch counts what it did.
	var base string
	for _, l := range support.JSONLines(w.Log()) {
		if l["msg"] == "watching" {
			base, _ = l["address"].(string)
		}
	}
	m, err := support.Scrape(ctx, "http://"+base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for outcome, want := range map[string]float64{"resubmitted": 5, "stopped": 1, "succeeded": 1, "failed": 0} {
		if got, _ := m.Value("argo_oom_remediator_resubmits_total", "namespace", ns, "outcome", outcome); got != want {
			t.Errorf("resubmits_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}

	// The reports, as the sink got them (each validated against the
	// schema), and the Slack threads they make.
	sensor, err := slackthread.Load()
	if err != nil {
		t.Fatal(err)
	}
	threads := map[string][]string{}
	kinds := map[string][]string{}
	for _, ev := range sink.Processed() {
		typ, _ := ev["type"].(string)
		if typ == notify.SweepType {
			continue
		}
		body, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var d notify.Data
		raw, _ := json.Marshal(ev["data"])
		_ = json.Unmarshal(raw, &d)
		if strings.HasPrefix(d.Outcome, "resubmit") {
			kinds[d.Workflow] = append(kinds[d.Workflow], d.Outcome)
		}
		msg, posted, err := sensor.Render(body)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if posted {
			threads[msg.Thread] = append(threads[msg.Thread], msg.Text+"\n"+msg.Blocks)
		}
	}
	wantKinds := map[string][]string{
		"fits": {"resubmitted"}, "fits-oom-1": {"resubmitted"}, "fits-oom-2": {"resubmit-ended"},
		"none-fits": {"resubmitted"}, "none-fits-oom-1": {"resubmitted"}, "none-fits-oom-2": {"resubmitted"}, "none-fits-oom-3": {"resubmit-stopped"},
	}
	for wf, want := range wantKinds {
		if !slices.Equal(kinds[wf], want) {
			t.Errorf("%s: resubmit reports %v, want %v", wf, kinds[wf], want)
		}
	}
	if len(kinds) != len(wantKinds) {
		t.Errorf("resubmit reports about %d workflows, want %d: %v", len(kinds), len(wantKinds), kinds)
	}
	for _, thread := range []string{ns + "/fits", ns + "/none-fits"} {
		all := strings.Join(threads[thread], "\n")
		for _, want := range map[string][]string{
			ns + "/fits": {"*Resubmitted as* `fits-oom-1` with memory limit *192Mi*", "*Resubmitted as* `fits-oom-2` with memory limit *320Mi*",
				"Resubmitted workflow Succeeded", "*Workflow*\nfits-oom-1"},
			ns + "/none-fits": {"*Resubmitted as* `none-fits-oom-3` with memory limit *512Mi*", "*Not resubmitted:* main already had 512Mi, the maximum"},
		}[thread] {
			if !strings.Contains(all, want) {
				t.Errorf("thread %s lacks %q", thread, want)
			}
		}
		t.Logf("Slack thread %s (%d messages):\n%s", thread, len(threads[thread]), strings.Join(threads[thread], "\n----\n"))
	}
	if got := threads[ns+"/no-opt-in"]; len(got) != 1 || !strings.Contains(got[0], "Stuck workflow released") {
		t.Errorf("no-opt-in thread: %q, want its rescue only", got)
	}
	if len(threads) != 3 {
		t.Errorf("%d threads, want 3: %v", len(threads), keys(threads))
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
