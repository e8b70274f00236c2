package events

import (
	"strconv"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// checkEvidence compares the wait container's evidence the Job carries with
// the status of the event's pod, read here with the Kubernetes types: the
// exit code and finish time of its terminated wait container, or nothing.
func checkEvidence(t *testing.T, job *batchv1.Job, e podEvent) {
	t.Helper()
	var p corev1.Pod
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(pod(t, e.scenario, e.atStep).Object, &p); err != nil {
		t.Fatal(err)
	}
	var exit, finished string
	for _, cs := range p.Status.ContainerStatuses {
		if term := cs.State.Terminated; cs.Name == "wait" && term != nil {
			exit = strconv.Itoa(int(term.ExitCode))
			if !term.FinishedAt.IsZero() {
				finished = term.FinishedAt.UTC().Format(time.RFC3339)
			}
		}
	}
	got := env(job)
	if got["REMEDIATOR_WAIT_EXIT_CODE"] != exit || got["REMEDIATOR_WAIT_FINISHED_AT"] != finished {
		t.Errorf("wait evidence %q, %q; the event's pod shows %q, %q", got["REMEDIATOR_WAIT_EXIT_CODE"],
			got["REMEDIATOR_WAIT_FINISHED_AT"], exit, finished)
	}
	if exit != "" && got["REMEDIATOR_POD_UID"] != string(p.UID) {
		t.Errorf("evidence bound to pod %q, the event's pod is %q", got["REMEDIATOR_POD_UID"], p.UID)
	}
}
