package manifests

import (
	"fmt"
	"slices"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util/expr/argoexpr"
	"github.com/argoproj/argo-workflows/v3/util/expr/env"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
)

// Exit codes of the remediator (internal/app/exit.go), and the kernel's
// OOM kill.
const (
	exitFailure      = 1
	exitBadInput     = 2
	exitNotifyFailed = 3
	exitOOMKilled    = 137
)

// What happens to a failed pod of a Job, per its podFailurePolicy.
const (
	counted = "Count" // no rule matched, or a Count rule: against backoffLimit
	failJob = string(batchv1.PodFailurePolicyActionFailJob)
	ignored = string(batchv1.PodFailurePolicyActionIgnore)
)

// failedPod is a pod of the Job whose container ended with exitCode, with
// the given pod conditions.
func failedPod(container string, exitCode int32, conditions ...corev1.PodConditionType) corev1.PodStatus {
	s := corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: container,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode}}}}}
	for _, c := range conditions {
		s.Conditions = append(s.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue})
	}
	return s
}

// policyAction is what the Job controller does with a failed pod: the
// action of the first matching rule (pkg/controller/job/pod_failure_policy.go
// in Kubernetes: terminated containers with a non-zero exit code are matched
// against onExitCodes, pod conditions against onPodConditions, whose status
// defaults to True), counted when none matches.
func policyAction(p *batchv1.PodFailurePolicy, pod corev1.PodStatus) string {
	if p == nil {
		return counted
	}
	for _, r := range p.Rules {
		if c := r.OnExitCodes; c != nil {
			for _, cs := range append(pod.InitContainerStatuses, pod.ContainerStatuses...) {
				term := cs.State.Terminated
				if term == nil || term.ExitCode == 0 || (c.ContainerName != nil && *c.ContainerName != cs.Name) {
					continue
				}
				if in := slices.Contains(c.Values, term.ExitCode); in == (c.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
					return string(r.Action)
				}
			}
		}
		for _, pat := range r.OnPodConditions {
			want := pat.Status
			if want == "" {
				want = corev1.ConditionTrue
			}
			for _, cond := range pod.Conditions {
				if cond.Type == pat.Type && cond.Status == want {
					return string(r.Action)
				}
			}
		}
	}
	return counted
}

// checkNoCrashLoop: a Job spec running the remediator fails at once on bad
// input (exit 2), counts every other failure against a bounded backoffLimit,
// and does not count a pod evicted by a drain or preemption.
func checkNoCrashLoop(t *testing.T, owner string, spec batchv1.JobSpec, wantBackoff int32) {
	t.Helper()
	pod := spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q, want Never (podFailurePolicy needs it; OnFailure restarts in place)", owner, pod.RestartPolicy)
	}
	if got := ptr.Deref(spec.BackoffLimit, 6); got != wantBackoff {
		t.Errorf("%s: backoffLimit %d, want %d", owner, got, wantBackoff)
	}
	if spec.ActiveDeadlineSeconds == nil {
		t.Errorf("%s: no activeDeadlineSeconds", owner)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers", owner, len(pod.Containers))
	}
	name := pod.Containers[0].Name
	for _, tc := range []struct {
		pod  corev1.PodStatus
		what string
		want string
	}{
		{failedPod(name, exitBadInput), "exit 2 (bad input)", failJob},
		{failedPod(name, exitFailure), "exit 1 (failed)", counted},
		{failedPod(name, exitNotifyFailed), "exit 3 (notification failed)", counted},
		{failedPod(name, exitOOMKilled), "exit 137 (OOMKilled)", counted},
		{failedPod(name, exitFailure, corev1.DisruptionTarget), "exit 1 after an eviction", ignored},
		{failedPod("other", exitBadInput), "exit 2 of another container", counted},
	} {
		if got := policyAction(spec.PodFailurePolicy, tc.pod); got != tc.want {
			t.Errorf("%s: %s: %s, want %s", owner, tc.what, got, tc.want)
		}
	}
}

// TestPolicyActionCanFail: the evaluator above tells the rules apart.
func TestPolicyActionCanFail(t *testing.T) {
	p := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{5}}},
	}}
	if got := policyAction(p, failedPod("c", 5)); got != counted {
		t.Errorf("NotIn [5], exit 5: %s", got)
	}
	if got := policyAction(p, failedPod("c", 6)); got != ignored {
		t.Errorf("NotIn [5], exit 6: %s", got)
	}
	if got := policyAction(nil, failedPod("c", 2)); got != counted {
		t.Errorf("no policy: %s", got)
	}
}

// TestNoCrashLoop checks the Jobs of every overlay that run the remediator
// (the Sensor's and the sweep CronJob's) and the (Cluster)WorkflowTemplate's
// retryStrategy, evaluated with Argo's own expression environment.
func TestNoCrashLoop(t *testing.T) {
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			objs := build(t, v)
			var cj batchv1.CronJob
			convert(t, find(t, objs, "CronJob", sweepName), &cj)
			checkNoCrashLoop(t, "CronJob "+sweepName, cj.Spec.JobTemplate.Spec, 0)

			sensor := find(t, objs, "Sensor", "oom-remediation")
			triggers, _, _ := unstructured.NestedSlice(sensor.Object, "spec", "triggers")
			if len(triggers) == 0 {
				t.Fatal("Sensor oom-remediation has no triggers")
			}
			res, _, _ := unstructured.NestedMap(triggers[0].(map[string]any), "template", "k8s", "source", "resource")
			var job batchv1.Job
			convert(t, &unstructured.Unstructured{Object: res}, &job)
			checkNoCrashLoop(t, "the Sensor's Job", job.Spec, 3)

			for _, kind := range []string{"WorkflowTemplate", "ClusterWorkflowTemplate"} {
				for _, o := range objectsOf(objs, kind) {
					var wt wfv1.WorkflowTemplate
					convert(t, o, &wt)
					checkRetryStrategy(t, kind+" "+wt.Name, wt.Spec)
				}
			}
		})
	}
}

// checkRetryStrategy: the remediate template is retried after any failure
// but bad input (exit 2), a bounded number of times.
func checkRetryStrategy(t *testing.T, owner string, spec wfv1.WorkflowSpec) {
	t.Helper()
	for _, tmpl := range spec.Templates {
		if tmpl.Container == nil {
			continue
		}
		rs := tmpl.RetryStrategy
		if rs == nil || rs.Limit == nil || rs.Limit.IntValue() != 3 {
			t.Errorf("%s template %s: retryStrategy %+v, want limit 3", owner, tmpl.Name, rs)
			continue
		}
		if p := rs.RetryPolicyActual(); p != wfv1.RetryPolicyAlways {
			t.Errorf("%s template %s: retry policy %s, want Always (Error nodes too; the expression decides)", owner, tmpl.Name, p)
		}
		for _, tc := range []struct {
			phase wfv1.NodePhase
			exit  string
			want  bool
		}{
			{wfv1.NodeFailed, fmt.Sprint(exitBadInput), false},
			{wfv1.NodeFailed, fmt.Sprint(exitFailure), true},
			{wfv1.NodeFailed, fmt.Sprint(exitNotifyFailed), true},
			{wfv1.NodeFailed, fmt.Sprint(exitOOMKilled), true},
			{wfv1.NodeError, "-1", true}, // no exit code: pod deleted, evicted
		} {
			got, err := retries(rs.Expression, tc.phase, tc.exit)
			if err != nil || got != tc.want {
				t.Errorf("%s template %s: %s with exit code %s: retried %v (%v), want %v", owner, tmpl.Name, tc.phase, tc.exit, got, err, tc.want)
			}
		}
	}
}

// retries evaluates a retryStrategy expression as Argo's controller does
// (workflow/controller/operator.go, buildRetryStrategyLocalScope): exitCode
// is a string, "-1" when the node has none.
func retries(expression string, phase wfv1.NodePhase, exitCode string) (bool, error) {
	scope := env.GetFuncMap(map[string]any{
		"retries":            "0",
		"lastRetry.exitCode": exitCode,
		"lastRetry.status":   string(phase),
		"lastRetry.duration": "1",
		"lastRetry.message":  "",
	})
	return argoexpr.EvalBool(expression, scope)
}
