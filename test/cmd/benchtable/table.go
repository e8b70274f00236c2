package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Row is one metric of one benchmark.
type Row struct {
	Benchmark string // without the -GOMAXPROCS suffix
	Metric    string // unit as the benchmark reported it, e.g. "peak-RSS-MiB"
	Value     float64
}

// Target is a bound the project set for a metric.
type Target struct {
	Max  float64 // the figure must not exceed it
	Why  string  // where the bound comes from
	Text string  // the bound as the docs state it
}

// targets maps "benchmark prefix|metric" to its bound. A benchmark matches
// the longest prefix; sub-benchmarks (BenchmarkRemediatorLargeWorkflow/...)
// share their parent's bounds.
var targets = map[string]Target{
	"BenchmarkRemediatorProcess|requests/op":            {Max: 8, Text: "≤ 8", Why: "issue 2"},
	"BenchmarkRemediatorProcess|ms-to-first-request":    {Max: 100, Text: "< 100 ms", Why: "issue 2"},
	"BenchmarkRemediatorProcess|peak-RSS-MiB":           {Max: 64, Text: "≤ 64 MiB", Why: "Job limit 80Mi with 25 % headroom"},
	"BenchmarkRemediatorLargeWorkflow|requests/op":      {Max: 8, Text: "≤ 8", Why: "issue 2"},
	"BenchmarkRemediatorLargeWorkflow|peak-RSS-MiB":     {Max: 64, Text: "≤ 64 MiB", Why: "Job limit 80Mi with 25 % headroom"},
	"BenchmarkSweep|s/sweep":                            {Max: 10, Text: "< 10 s", Why: "issue 6"},
	"BenchmarkSweep|peak-RSS-MiB":                       {Max: 150, Text: "< 150 MiB", Why: "issue 6; CronJob limit"},
	"BenchmarkSweepClusterScale|s/sweep":                {Max: 30, Text: "< 30 s", Why: "issue 12 (50,000 workflows)"},
	"BenchmarkSweepClusterScale|peak-RSS-MiB":           {Max: 150, Text: "< 150 MiB", Why: "issue 12; CronJob limit"},
	"BenchmarkDefaultSizeCompressedFanOut|peak-RSS-MiB": {Max: 64, Text: "≤ 64 MiB", Why: "Job limit 80Mi with 25 % headroom"},
	// The event path under a burst (test/pipeline): no OOM without its Job,
	// no Job for a pod that did not OOM, the Argo Events services and the
	// pod watcher within their manifests' limits (192Mi) with 25 % headroom.
	"BenchmarkEventPathBurst|jobs-missing":             {Max: 0, Text: "0", Why: "issue 12: every OOM gets its Job"},
	"BenchmarkEventPathBurst|jobs-stray":               {Max: 0, Text: "0", Why: "issue 12: no Job for a healthy pod"},
	"BenchmarkEventPathBurst|sensor-peak-RSS-MiB":      {Max: 153.6, Text: "≤ 153.6 MiB", Why: "Sensor limit 192Mi with 25 % headroom"},
	"BenchmarkEventPathBurst|eventsource-peak-RSS-MiB": {Max: 153.6, Text: "≤ 153.6 MiB", Why: "EventSource limit 192Mi with 25 % headroom"},
	"BenchmarkEventPathBurst|watcher-peak-RSS-MiB":     {Max: 153.6, Text: "≤ 153.6 MiB", Why: "pod watcher limit 192Mi with 25 % headroom"},
	// The pod watcher as shipped (test/eventsource), at the size it is
	// sized for.
	"BenchmarkEventSourceMemory|pods-10000-peak-RSS-MiB": {Max: 153.6, Text: "≤ 153.6 MiB", Why: "issue 12: 10,000 live workflow pods, limit 192Mi with 25 % headroom"},
}

// benchLine is a result line: name-procs, iterations, then value-unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse reads `go test -bench` output and returns every metric of every
// result line, in order. Other lines (logs, PASS, ok) are ignored.
func parse(r io.Reader) ([]Row, error) {
	var rows []Row
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		if len(fields)%2 != 0 {
			return nil, fmt.Errorf("result line of %s: value without a unit: %q", m[1], m[2])
		}
		for i := 0; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("result line of %s: %q is not a number: %w", m[1], fields[i], err)
			}
			rows = append(rows, Row{Benchmark: m[1], Metric: fields[i+1], Value: v})
		}
	}
	return rows, sc.Err()
}

// targetOf finds the bound of a row, if the project set one.
func targetOf(r Row) (Target, bool) {
	name := r.Benchmark
	for {
		if t, ok := targets[name+"|"+r.Metric]; ok {
			return t, true
		}
		i := strings.LastIndex(name, "/")
		if i < 0 {
			return Target{}, false
		}
		name = name[:i]
	}
}

// writeTable prints the rows as a markdown table. Go's own ns/op is left out:
// every benchmark here reports its own wall time.
func writeTable(w io.Writer, rows []Row) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | metric | figure | target | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rows {
		if r.Metric == "ns/op" {
			continue
		}
		target, met := "", ""
		if t, ok := targetOf(r); ok {
			target = t.Text + " (" + t.Why + ")"
			met = "yes"
			if r.Value > t.Max {
				met = "**no**"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.Benchmark, r.Metric, strconv.FormatFloat(r.Value, 'g', 4, 64), target, met)
	}
}
