package local

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

const usage = `usage: localcluster up|down|status [flags]

  up      start etcd + kube-apiserver on 127.0.0.1 in the background, install
          the Argo Workflows and Argo Events CRDs, write <repo>/.cluster/kubeconfig
          and print "export KUBECONFIG=<repo>/.cluster/kubeconfig" on stdout
          (so eval "$(localcluster up)" works). If a cluster is already
          running it says so and exits 0; state of a crashed one is cleaned up.
  down    stop it (SIGTERM, then SIGKILL after -timeout) and remove <repo>/.cluster
  status  print pids and API server readiness; exit 1 if not running

The binaries come from bin/k8s/<KUBERNETES_VERSION> (or $KUBEBUILDER_ASSETS):
run "make tools-cluster" first. Logs are in <repo>/.cluster/logs/.

flags:
`

// Main runs the localcluster command with args (without the program name) and
// returns the exit code.
func Main(args []string) int {
	fs := flag.NewFlagSet("localcluster", flag.ContinueOnError)
	cfg := Config{}
	fs.IntVar(&cfg.APIServerPort, "apiserver-port", DefaultAPIServerPort, "kube-apiserver port on 127.0.0.1")
	fs.IntVar(&cfg.EtcdPort, "etcd-port", DefaultEtcdPort, "etcd client port on 127.0.0.1")
	fs.DurationVar(&cfg.Timeout, "timeout", 3*time.Minute, "how long up waits for readiness and down waits for the daemon to exit")
	fs.Usage = func() { printUsage(fs, os.Stderr) }
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	root, err := cluster.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		return 1
	}
	cfg.Root = root

	var run func(Config) error
	switch sub {
	case "up":
		run = Up
	case "down":
		run = Down
	case "status":
		run = Status
	case daemonArg:
		run = runDaemon
	case "-h", "-help", "--help", "help":
		printUsage(fs, os.Stdout)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "localcluster: unknown command %q\n", sub)
		fs.Usage()
		return 2
	}
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "localcluster %s: %v\n", sub, err)
		return 1
	}
	return 0
}

func printUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
}
