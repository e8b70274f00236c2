package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkRemediatorProcess-2   	      10	 112000000 ns/op	        25.00 ms-to-first-request	        40.70 peak-RSS-MiB	         9.000 requests/op
BenchmarkRemediatorLargeWorkflow/nodes=10000-2         	       3	 412000000 ns/op	        47.30 peak-RSS-MiB	         8.000 requests/op
BenchmarkSomethingNew-2 1 5 ns/op 3 widgets
BenchmarkEventPathBurst-2 1 9 ns/op 0 jobs-missing 201.5 sensor-peak-RSS-MiB
PASS
ok  	github.com/argo-oom-remediator/argo-oom-remediator/test/rescue	30.1s
`

func TestTableJudgesEachFigureAgainstItsTarget(t *testing.T) {
	rows, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 12 {
		t.Fatalf("parsed %d metrics, want 12: %+v", len(rows), rows)
	}
	var out strings.Builder
	writeTable(&out, rows)
	for _, want := range []string{
		"| BenchmarkRemediatorProcess | requests/op | 9 | ≤ 8 (issue 2) | **no** |",
		"| BenchmarkRemediatorProcess | peak-RSS-MiB | 40.7 | ≤ 64 MiB (Job limit 80Mi with 25 % headroom) | yes |",
		"| BenchmarkRemediatorLargeWorkflow/nodes=10000 | requests/op | 8 | ≤ 8 (issue 2) | yes |",
		"| BenchmarkSomethingNew | widgets | 3 |  |  |",
		"| BenchmarkEventPathBurst | jobs-missing | 0 | 0 (issue 12: every OOM gets its Job) | yes |",
		"| BenchmarkEventPathBurst | sensor-peak-RSS-MiB | 201.5 | ≤ 153.6 MiB (Sensor limit 192Mi with 25 % headroom) | **no** |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "ns/op") {
		t.Errorf("table shows ns/op:\n%s", out.String())
	}
}

func TestParseRefusesAMalformedResult(t *testing.T) {
	for _, line := range []string{
		"BenchmarkX-2 1 12 ns/op 7",
		"BenchmarkX-2 1 twelve ns/op",
	} {
		if _, err := parse(strings.NewReader(line)); err == nil {
			t.Errorf("parse(%q) accepted it", line)
		}
	}
}
