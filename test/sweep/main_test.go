package sweep

import (
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

// env is the control plane shared by the tests of this package that need
// no controller (each works in namespaces of its own), and the remediator
// as shipped. Tests under a real controller start a control plane of
// their own with it.
var env support.Shared

func TestMain(m *testing.M) { support.Main(m, "sweep", &env) }
