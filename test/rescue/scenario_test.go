package rescue

import (
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

// newScenario is a Running workflow on this package's control plane whose
// node has the given phase and status entry (nil: none); see
// support.NewStuck.
func newScenario(t testing.TB, nodePhase wfv1.NodePhase, entry *bool) *support.Stuck {
	t.Helper()
	return support.NewStuck(t, env.Cluster, nodePhase, entry)
}

// remediator builds the remediator's core on cfg (admin when nil).
func remediator(t *testing.T, cfg *rest.Config, opts remediate.Options) *remediate.Remediator {
	t.Helper()
	if cfg == nil {
		cfg = env.Config
	}
	return support.InProcess(t, cfg, opts)
}
