package resubmit

import (
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

// env is the control plane and the remediator as shipped; each test starts
// its own controller in a namespace of its own.
var env support.Shared

func TestMain(m *testing.M) { support.Main(m, "resubmit", &env) }
