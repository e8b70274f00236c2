// Command remediator rescues an Argo Workflow stuck in Running because the
// WorkflowTaskResult of one of its nodes was never finalized (its pod was
// OOMKilled or deleted). It is configured by REMEDIATOR_* environment
// variables; run it with --help to list them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/app"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/config"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/kube"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
)

const usage = `remediator: completes the WorkflowTaskResult of an OOMKilled or deleted workflow
pod once its wait container can no longer write outputs, so the workflow can end.

Usage:
  remediator          remediate REMEDIATOR_NODE_ID of REMEDIATOR_WORKFLOW
                      (every stuck node of the workflow when NODE_ID is empty)
  remediator sweep    find and remediate stuck nodes in REMEDIATOR_NAMESPACE (empty: all)
  remediator watch    the sweep every REMEDIATOR_WATCH_INTERVAL, serving Prometheus metrics
                      on REMEDIATOR_METRICS_ADDRESS (/metrics, /healthz) until SIGTERM
  remediator pods     watch the workflow pods of REMEDIATOR_NAMESPACE (empty: all) and serve
                      their changes to Argo Events' generic event source (gRPC) on
                      REMEDIATOR_PODS_ADDRESS until SIGTERM

Environment variables:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	mode := ""
	if len(args) > 0 && (args[0] == config.ModeSweep || args[0] == config.ModeWatch || args[0] == config.ModePods) {
		mode, args = args[0], args[1:]
	}
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
		fmt.Fprint(stdout, usage)
		_ = config.Usage(stdout)
		return app.ExitOK
	}
	if len(args) > 0 {
		// Only the flag's name: its value may be a secret (--token=...).
		name, _, _ := strings.Cut(args[0], "=")
		fmt.Fprintf(stderr, "remediator: unexpected argument %q; the configuration comes from REMEDIATOR_* variables (see --help)\n", name)
		return app.ExitBadInput
	}
	cfg, err := config.Load(mode)
	if err != nil {
		fmt.Fprintln(stderr, (&app.BadInputError{Err: err}).Error())
		return app.ExitBadInput
	}
	log := app.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	identity, err := app.Identity(os.Hostname)
	if err != nil {
		log.Warn("using a random identity", "identity", identity, "error", err)
	}

	restCfg, err := kube.Config(cfg.Kubeconfig, "argo-oom-remediator/"+identity)
	if err != nil && cfg.Kubeconfig != "" {
		// The file exists (Validate checked) but is no usable kubeconfig.
		fmt.Fprintln(stderr, (&app.BadInputError{Err: fmt.Errorf("%s_KUBECONFIG: %w", config.Prefix, err)}).Error())
		return app.ExitBadInput
	}
	if err != nil {
		log.Error("no cluster", "error", err)
		return app.ExitFailure
	}
	kubeClient, argoClient, err := kube.Clients(restCfg)
	if err != nil {
		log.Error("no cluster", "error", err)
		return app.ExitFailure
	}
	deps := app.Deps{Kube: kubeClient, Argo: argoClient, Log: log, Identity: identity}
	if cfg.SinkURL != "" {
		if deps.Events, err = notify.NewHTTPClient(cfg.SinkURL, cfg.SinkTokenFile, cfg.SinkTimeout.Duration); err != nil {
			log.Error("bad sink", "error", err)
			return app.ExitBadInput
		}
	}
	return app.ExitCode(app.Run(ctx, cfg, deps))
}
