package e2e

import (
	"flag"
	"io"

	"k8s.io/klog/v2"
)

// QuietClientGo silences client-go's logging: its watchers log an error
// each time a bounded wait or a played kubelet ends, which is expected here.
func QuietClientGo() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL"} {
		_ = fs.Set(name, value)
	}
	klog.SetOutput(io.Discard)
}
