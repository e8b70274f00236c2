// Command demo tells the whole story on an embedded local cluster: a real
// Argo Workflows v3.5.8 controller runs a workflow, its pod is OOMKilled and
// garbage-collected, the workflow stays Running, the remediator binary runs
// with the environment a Job would get, the workflow ends, and the
// CloudEvent the remediator sent is printed. Everything it starts, it stops.
//
// Run it with `make demo`, which builds what is missing first.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}
