// Command bench measures how long a workflow whose step was OOMKilled takes
// to reach its terminal phase on each real Argo controller version: on its
// own (upstream self-heal, capped), with the remediator, and with the
// remediator's nudge. It starts a local control plane, runs every
// (version, scenario, mode) run in a namespace and controller of its own,
// a few at once, appends each sample to a JSON-lines file as it ends, and
// prints a markdown table (median / max) at the end.
//
//	go run ./test/e2e/bench -runs 5 -parallel 4 -raw /tmp/bench.jsonl
//	go run ./test/e2e/bench -table-from /tmp/bench.jsonl   # table of a (partial) earlier run
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/e2e"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/argo"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

func main() {
	versions := flag.String("versions", strings.Join(argo.Versions, ","), "controller versions")
	scenarios := flag.String("scenarios", "1-oom-deleted-at-once,2-oom-deleted-after-failed,3-oom-pod-kept,11-slow-upload-pod-kept,12-slow-upload-pod-deleted,13-wait-exits-unfinalized", "scenario names (see e2e.Scenarios)")
	modes := flag.String("modes", strings.Join([]string{Upstream, Lowered, Remediator, Nudge}, ","), "modes: upstream, lowered (v3.7.1+ only), remediator, nudge")
	runs := flag.Int("runs", 5, "runs per (version, scenario, mode)")
	upstreamRuns := flag.Int("upstream-runs", 0, "runs of the slow upstream mode (0: -runs)")
	parallel := flag.Int("parallel", 4, "runs at once")
	capFlag := flag.Duration("cap", 180*time.Second, "observation cap from the OOM")
	stallCap := flag.Duration("stall-cap", 12*time.Minute, "cap of upstream's default on 13-wait-exits-unfinalized on v3.7.1+ (its 10-min TASK_RESULT_TIMEOUT_DURATION)")
	lowered := flag.Duration("lowered", argo.LoweredTimeout, "TASK_RESULT_TIMEOUT_DURATION and RECENTLY_DELETED_POD_DURATION in the lowered mode")
	grace := flag.Duration("grace", 30*time.Second, "the remediator's grace for a vanished pod (REMEDIATOR_GRACE_PERIOD; 30s is its default)")
	runFor := flag.Duration("run-for", 0, "how long the victim's main runs before its fate (0: at once); a real OOM comes after a while, which v3.5/v3.6's early write needs (decide.RecentlyStarted); the scenario is then named <name>@run-<d>")
	raw := flag.String("raw", "bench.jsonl", "file the samples are appended to")
	tableFrom := flag.String("table-from", "", "print the table of the samples in this file and exit")
	logDir := flag.String("log-dir", "", "controller and remediator logs (default: a temporary directory)")
	flag.Parse()
	e2e.QuietClientGo()

	vs, scs := split(*versions), split(*scenarios)
	if *tableFrom != "" {
		samples, err := load(*tableFrom)
		check(err)
		printTable(os.Stdout, samples, *capFlag, vs, scs)
		return
	}
	if *upstreamRuns == 0 {
		*upstreamRuns = *runs
	}
	var jobs []job
	for _, m := range split(*modes) { // upstream first: its runs are the longest
		n := *runs
		if m == Upstream {
			n = *upstreamRuns
		}
		for i := 0; i < n; i++ {
			for _, sc := range scs {
				for _, v := range vs {
					if m == Lowered && !argo.HasTaskResultTimeout(v) {
						continue // nothing to lower: the controller has no such timeout
					}
					s, ok := e2e.ScenarioNamed(sc)
					if !ok {
						check(fmt.Errorf("no scenario %q", sc))
					}
					if *runFor > 0 {
						s.RunFor = *runFor
						s.Name += "@run-" + runFor.String()
					}
					jobs = append(jobs, job{Version: v, Scenario: s, Mode: m})
				}
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *logDir == "" {
		dir, err := os.MkdirTemp("", "bench-logs-")
		check(err)
		defer os.RemoveAll(dir)
		*logDir = dir
	}
	out, err := os.OpenFile(*raw, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	check(err)
	defer out.Close()
	c, err := cluster.Launch(ctx, cluster.Options{})
	check(err)
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stopping the cluster:", err)
		}
	}()

	r := runner{c: c, logDir: *logDir, cap: *capFlag, stallCap: *stallCap, grace: *grace, lowered: *lowered}
	began := time.Now()
	var (
		mu      sync.Mutex
		samples []Sample
		wg      sync.WaitGroup
	)
	queue := make(chan job)
	for i := 0; i < *parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				s := r.run(ctx, j)
				line, _ := json.Marshal(s)
				mu.Lock()
				samples = append(samples, s)
				fmt.Fprintf(out, "%s\n", line)
				fmt.Fprintf(os.Stderr, "[%d/%d %s] %s %s %s: %s\n", len(samples), len(jobs), time.Since(began).Round(time.Second),
					s.Version, s.Scenario, s.Mode, summary(s))
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		select {
		case queue <- j:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
	fmt.Printf("%d runs in %s, %d at once, cap %s (upstream on the 10-min stall: %s), grace %s, lowered timeouts %s\n\n",
		len(samples), time.Since(began).Round(time.Second), *parallel, *capFlag, *stallCap, *grace, *lowered)
	printTable(os.Stdout, samples, *capFlag, vs, scs)
}

func summary(s Sample) string {
	switch {
	case s.Err != "":
		return "error: " + s.Err
	case s.Capped():
		return "not terminal within the cap (" + s.Phase + ")"
	}
	msg := fmt.Sprintf("%s %.1fs after the OOM", s.Phase, s.Terminal.Sub(s.OOM).Seconds())
	if s.Reran {
		msg += ", step reran"
	}
	if s.Outcome != "" {
		msg += fmt.Sprintf("; remediator %s (%s)", s.Outcome, s.Reason)
	}
	if s.OutputsKept != nil {
		msg += "; " + outputsNote(s)
	}
	return msg
}

func load(path string) ([]Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Sample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func split(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
