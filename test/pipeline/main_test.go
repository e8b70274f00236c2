package pipeline

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

// Process-wide fixtures, set up by TestMain before anything in the process
// makes a TLS or proxied connection: Go reads SSL_CERT_FILE once (the first
// time system roots are needed) and http.ProxyFromEnvironment reads
// HTTPS_PROXY once.
var (
	ca    *testCA
	slack *fakeSlack
)

// slackTokenFile is where argo-events v1.9.10 reads the Slack trigger's
// token (Secret oom-remediator-slack, key token, "mounted" at the fixed path
// /argo-events/secrets/<name>/<key>; sharedutil.GetSecretVolumePath).
const slackTokenFile = "/argo-events/secrets/oom-remediator-slack/token"

const slackToken = "xoxb-pipeline-test"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips
	}
	code, err := setupProcess(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline: setup:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func setupProcess(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "pipeline-pki-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if builtBin, err = support.Remediator(dir); err != nil {
		return 0, err
	}
	if argoEventsBin, err = support.TestCommand(dir, "argoevents"); err != nil {
		return 0, err
	}
	if ca, err = newTestCA(); err != nil {
		return 0, err
	}
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.certPEM, 0o600); err != nil {
		return 0, err
	}
	emptyDir := filepath.Join(dir, "no-certs")
	if err := os.Mkdir(emptyDir, 0o700); err != nil {
		return 0, err
	}
	// The system roots of this process are the test CA only.
	os.Setenv("SSL_CERT_FILE", caFile)
	os.Setenv("SSL_CERT_DIR", emptyDir)

	slack = newFakeSlack()
	proxy, err := startSlackProxy(ca, slack)
	if err != nil {
		return 0, err
	}
	defer proxy.Close()
	os.Setenv("HTTPS_PROXY", "http://"+proxy.Addr)
	os.Setenv("NO_PROXY", "127.0.0.1,localhost")

	if err := writeSlackToken(); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// writeSlackToken creates the Slack token file unless it holds the test
// token already (several test processes may share the machine).
func writeSlackToken() error {
	if b, err := os.ReadFile(slackTokenFile); err == nil && string(b) == slackToken {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(slackTokenFile), 0o755); err != nil {
		return fmt.Errorf("the Slack trigger reads its token from %s: %w", slackTokenFile, err)
	}
	tmp := slackTokenFile + fmt.Sprintf(".%d", os.Getpid())
	if err := os.WriteFile(tmp, []byte(slackToken), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, slackTokenFile)
}
