// Command benchtable turns `go test -bench` output into the table of figures
// docs/benchmarks.md summarises: one row per benchmark and metric, with the
// target the project set for it, and whether the figure meets it. It copies
// its input to stdout as it reads it, so a long `make bench` shows progress,
// and prints the table at the end.
//
//	go test -run '^$' -bench . ./rescue/ ./sweep/ | go run ./cmd/benchtable
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

func main() {
	rows, err := parse(io.TeeReader(os.Stdin, os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(rows) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark result in the input")
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	writeTable(w, rows)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}
