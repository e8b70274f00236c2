package events

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
)

const (
	labelWorkflow          = "argo-oom-remediator.io/workflow"
	labelWorkflowNamespace = "argo-oom-remediator.io/workflow-namespace"
	labelReason            = "argo-oom-remediator.io/reason"
	annotationNodeID       = "workflows.argoproj.io/node-id"
)

// jobName is the documented Job name formula, computed independently of the
// Sensor's template.
func jobName(namespace, nodeID, podUID string) string {
	sum := sha256.Sum256([]byte(namespace + "/" + nodeID + "/" + podUID))
	return "oom-remediation-" + hex.EncodeToString(sum[:])[:20]
}

// TestRemediatorJob renders the oom-remediation trigger's Job for events of
// one pod: every event of that pod asks for the same Job.
func TestRemediatorJob(t *testing.T) {
	sensor := loadSensor(t, "oom-remediation.yaml")
	dep := sensor.Spec.Dependencies[0].Name

	oom := pod(t, "oom-main", "main-oomkilled")
	long := pod(t, "long-names", "main-oomkilled")
	cases := []struct {
		name   string
		event  podEvent
		reason string
		want   podIdentity
		// exit, finished: the wait container's evidence ("": main was
		// OOMKilled while wait still ran).
		exit, finished string
	}{
		{"OOM update (the wait's end after main's OOM)", update("oom-main", "main-oomkilled", "wait-killed"), "OOMKilled",
			podIdentity{"team-a", "etl-nightly", "etl-nightly-3311720384", "etl-nightly-main-3311720384", string(oom.GetUID())}, "137", "2026-11-27T01:22:52Z"},
		{"OOM update delivered again", update("oom-main", "main-oomkilled", "wait-killed"), "OOMKilled",
			podIdentity{"team-a", "etl-nightly", "etl-nightly-3311720384", "etl-nightly-main-3311720384", string(oom.GetUID())}, "137", "2026-11-27T01:22:52Z"},
		{"an OOM update with wait running, as rendered (the filter lets it through only once wait ends)", update("oom-main", "running", "main-oomkilled"), "OOMKilled",
			podIdentity{"team-a", "etl-nightly", "etl-nightly-3311720384", "etl-nightly-main-3311720384", string(oom.GetUID())}, "", ""},
		{"DELETE of the same pod: its last status shows wait killed", deletion("oom-main"), "deleted",
			podIdentity{"team-a", "etl-nightly", "etl-nightly-3311720384", "etl-nightly-main-3311720384", string(oom.GetUID())}, "137", "2026-11-27T01:22:52Z"},
		{"long names OOM update, as rendered", update("long-names", "running", "main-oomkilled"), "OOMKilled",
			podIdentity{longNS, longWF, longWF + "-1234567890", long.GetName(), string(long.GetUID())}, "", ""},
		{"long names DELETE", deletion("long-names"), "deleted",
			podIdentity{longNS, longWF, longWF + "-1234567890", long.GetName(), string(long.GetUID())}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := renderJob(t, sensor, map[string]cloudevents.Event{dep: tc.event.cloudEvent(t)})
			w := tc.want
			if want := jobName(w.namespace, w.nodeID, w.uid); job.Name != want {
				t.Errorf("name = %q, want %q", job.Name, want)
			}
			if job.Namespace != "" {
				t.Errorf("namespace = %q, want none: the trigger creates it in the Sensor's namespace", job.Namespace)
			}
			wantLabels := map[string]string{
				"app.kubernetes.io/name":      "argo-oom-remediator",
				"app.kubernetes.io/component": "remediation",
				labelWorkflow:                 w.workflow,
				labelWorkflowNamespace:        w.namespace,
				labelReason:                   tc.reason,
			}
			if !reflect.DeepEqual(job.Labels, wantLabels) {
				t.Errorf("labels = %v\nwant %v", job.Labels, wantLabels)
			}
			wantEnv := []corev1.EnvVar{
				{Name: "REMEDIATOR_NAMESPACE", Value: w.namespace},
				{Name: "REMEDIATOR_WORKFLOW", Value: w.workflow},
				{Name: "REMEDIATOR_NODE_ID", Value: w.nodeID},
				{Name: "REMEDIATOR_POD_NAME", Value: w.pod},
				{Name: "REMEDIATOR_POD_UID", Value: w.uid},
				{Name: "REMEDIATOR_REASON", Value: tc.reason},
				{Name: "REMEDIATOR_WAIT_EXIT_CODE", Value: tc.exit},
				{Name: "REMEDIATOR_WAIT_FINISHED_AT", Value: tc.finished},
			}
			if got := job.Spec.Template.Spec.Containers[0].Env; !reflect.DeepEqual(got, wantEnv) {
				t.Errorf("env = %v\nwant %v", got, wantEnv)
			}
			assertValidJobMeta(t, job)
		})
	}

	t.Run("spec", func(t *testing.T) {
		job := renderJob(t, sensor, map[string]cloudevents.Event{dep: update("oom-main", "main-oomkilled", "wait-killed").cloudEvent(t)})
		assertJobSpec(t, job)
	})
}

type podIdentity struct{ namespace, workflow, nodeID, pod, uid string }

// assertJobSpec checks what does not depend on the event.
func assertJobSpec(t *testing.T, job *batchv1.Job) {
	t.Helper()
	s := job.Spec
	if !reflect.DeepEqual([]*int32{s.TTLSecondsAfterFinished, s.BackoffLimit}, []*int32{ptr.To[int32](3600), ptr.To[int32](3)}) ||
		s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != 900 {
		t.Errorf("ttlSecondsAfterFinished, backoffLimit, activeDeadlineSeconds = %v, %v, %v", s.TTLSecondsAfterFinished, s.BackoffLimit, s.ActiveDeadlineSeconds)
	}
	// Never a crash loop: bad input (exit 2) fails the Job at once; other
	// failures are retried up to backoffLimit; evictions are not counted.
	wantPolicy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: ptr.To("remediator"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{2}}},
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
			{Type: corev1.DisruptionTarget}}},
	}}
	if !reflect.DeepEqual(s.PodFailurePolicy, wantPolicy) {
		t.Errorf("podFailurePolicy = %+v\nwant %+v", s.PodFailurePolicy, wantPolicy)
	}
	pod := s.Template.Spec
	if pod.ServiceAccountName != "oom-remediator" || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("serviceAccountName, restartPolicy = %q, %q", pod.ServiceAccountName, pod.RestartPolicy)
	}
	wantPodSC := &corev1.PodSecurityContext{
		RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if !reflect.DeepEqual(pod.SecurityContext, wantPodSC) {
		t.Errorf("pod securityContext = %+v", pod.SecurityContext)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != "ghcr.io/argo-oom-remediator/remediator:v0.1.0" {
		t.Errorf("image = %q", c.Image)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != "oom-remediator-config" {
		t.Errorf("envFrom = %+v, want the ConfigMap oom-remediator-config", c.EnvFrom)
	}
	sc := c.SecurityContext
	if sc == nil || !ptr.Deref(sc.RunAsNonRoot, false) || ptr.Deref(sc.RunAsUser, 0) != 65532 ||
		!ptr.Deref(sc.ReadOnlyRootFilesystem, false) || ptr.Deref(sc.AllowPrivilegeEscalation, true) ||
		sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext = %+v", sc)
	}
	wantResources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("80Mi")},
	}
	if !equality.Semantic.DeepEqual(c.Resources, wantResources) {
		t.Errorf("resources = %+v", c.Resources)
	}
}

// assertValidJobMeta checks what the API server would reject: a Job name
// that is not a DNS label (it becomes the job-name label), bad labels.
func assertValidJobMeta(t *testing.T, job *batchv1.Job) {
	t.Helper()
	if errs := validation.IsDNS1123Label(job.Name); len(errs) > 0 {
		t.Errorf("Job name %q: %v", job.Name, errs)
	}
	for k, v := range job.Labels {
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			t.Errorf("label %s=%q: %v", k, v, errs)
		}
	}
}

// env maps the remediator container's env names to values.
func env(job *batchv1.Job) map[string]string {
	out := map[string]string{}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e.Value
	}
	return out
}
