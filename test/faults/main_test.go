package faults

import (
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

// env is this package's control plane (tests restart its components) and
// the remediator as shipped.
var env support.Shared

func TestMain(m *testing.M) { support.Main(m, "faults", &env) }
