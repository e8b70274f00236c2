package manifests

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestPodsAreHardenedAndBounded(t *testing.T) {
	for _, v := range allVariants {
		t.Run(v.name, func(t *testing.T) {
			ps := pods(t, build(t, v))
			want := 3 // the sweep CronJob, the WorkflowTemplate and the pod watcher
			if v.clusterWide {
				want++ // the ClusterWorkflowTemplate
			}
			if len(ps) != want {
				t.Fatalf("found %d pod templates, want %d", len(ps), want)
			}
			for _, p := range ps {
				// The pod watcher runs with the pod-watching rules, the rest
				// as the remediator.
				wantSA := remediator
				if p.owner == "Deployment/"+podsName {
					wantSA = eventSourceName
				}
				if p.serviceAccount != wantSA {
					t.Errorf("%s: serviceAccountName %q, want %q", p.owner, p.serviceAccount, wantSA)
				}
				for _, c := range p.containers {
					for _, problem := range append(hardeningProblems(effectiveSecurity(p, c)), boundsProblems(c.Resources)...) {
						t.Errorf("%s container %s: %s", p.owner, c.Name, problem)
					}
				}
			}
		})
	}
}

// hardeningProblems lists what e lacks of the required security settings.
func hardeningProblems(e effective) []string {
	var p []string
	if !e.runAsNonRoot {
		p = append(p, "runAsNonRoot is not true")
	}
	if e.runAsUser != 65532 {
		p = append(p, fmt.Sprintf("runAsUser = %d, want 65532 (distroless nonroot)", e.runAsUser))
	}
	if !e.readOnlyRootFilesystem {
		p = append(p, "readOnlyRootFilesystem is not true")
	}
	if e.allowPrivilegeEscalation == nil || *e.allowPrivilegeEscalation {
		p = append(p, "allowPrivilegeEscalation is not false")
	}
	if !e.dropsAll {
		p = append(p, "capabilities.drop does not hold ALL")
	}
	if e.seccomp != corev1.SeccompProfileTypeRuntimeDefault {
		p = append(p, fmt.Sprintf("seccompProfile.type = %q, want RuntimeDefault", e.seccomp))
	}
	return p
}

// boundsProblems lists the missing CPU and memory requests and limits.
func boundsProblems(r corev1.ResourceRequirements) []string {
	var p []string
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := r.Requests[name]
		lim, hasLim := r.Limits[name]
		switch {
		case !hasReq || !hasLim:
			p = append(p, fmt.Sprintf("%s needs both a request and a limit", name))
		case req.Cmp(lim) > 0:
			p = append(p, fmt.Sprintf("%s request %s exceeds its limit %s", name, req.String(), lim.String()))
		}
	}
	return p
}

// TestChecksCanFail makes sure the checks above report what they look for.
func TestChecksCanFail(t *testing.T) {
	if got := hardeningProblems(effective{}); len(got) != 6 {
		t.Errorf("an unhardened container gave %d problems, want 6: %q", len(got), got)
	}
	tru := true
	if got := hardeningProblems(effective{runAsNonRoot: true, runAsUser: 65532, readOnlyRootFilesystem: true,
		allowPrivilegeEscalation: &tru, dropsAll: true, seccomp: corev1.SeccompProfileTypeRuntimeDefault}); len(got) != 1 {
		t.Errorf("allowPrivilegeEscalation: true gave %q, want one problem", got)
	}
	onlyRequests := corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("10Mi"),
	}}
	if got := boundsProblems(onlyRequests); len(got) != 2 {
		t.Errorf("requests without limits gave %q, want two problems", got)
	}
	inverted := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Mi")},
	}
	if got := boundsProblems(inverted); len(got) != 1 {
		t.Errorf("memory request above its limit gave %q, want one problem", got)
	}
}
