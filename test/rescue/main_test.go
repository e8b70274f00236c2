package rescue

import (
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

// env is the control plane shared by the tests of this package (each test
// works in namespaces of its own) and the remediator as shipped.
var env support.Shared

func TestMain(m *testing.M) { support.Main(m, "rescue", &env) }
