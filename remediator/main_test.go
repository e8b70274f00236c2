package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets the test binary act as the remediator program itself, so
// the exit codes below are those of a real process.
func TestMain(m *testing.M) {
	if os.Getenv("RUN_REMEDIATOR_MAIN_FOR_TEST") == "1" {
		main()
	}
	os.Exit(m.Run())
}

func runProcess(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{"RUN_REMEDIATOR_MAIN_FOR_TEST=1", "PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func TestHelpPrintsTheVariables(t *testing.T) {
	code, out, _ := runProcess(t, nil, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, v := range []string{"REMEDIATOR_NAMESPACE", "REMEDIATOR_WORKFLOW", "REMEDIATOR_NODE_ID", "REMEDIATOR_GRACE_PERIOD", "30s", "REMEDIATOR_SINK_URL", "REMEDIATOR_DRY_RUN"} {
		if !strings.Contains(out, v) {
			t.Errorf("--help lacks %s:\n%s", v, out)
		}
	}
}

func TestMissingVariableExits2NamingIt(t *testing.T) {
	code, _, stderr := runProcess(t, []string{"REMEDIATOR_NAMESPACE=team-a", "REMEDIATOR_NODE_ID=n-1"})
	if code != 2 || !strings.Contains(stderr, "REMEDIATOR_WORKFLOW: is required") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "REMEDIATOR_NAMESPACE") {
		t.Errorf("a valid variable is reported:\n%s", stderr)
	}
}

func TestUnexpectedArgument(t *testing.T) {
	if code := run(context.Background(), []string{"--namespace=x"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Fatalf("exit %d", code)
	}
}

// TestNoClusterExits1: no kubeconfig and not in a pod (no
// KUBERNETES_SERVICE_HOST) may be a pod started too early; a kubeconfig
// that does not exist is bad input (see test/badinput).
func TestNoClusterExits1(t *testing.T) {
	code, _, stderr := runProcess(t, []string{"REMEDIATOR_NAMESPACE=team-a", "REMEDIATOR_WORKFLOW=wf", "REMEDIATOR_NODE_ID=n-1"})
	if code != 1 || !strings.Contains(stderr, "in-cluster") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}
