// Command vulncheck compares govulncheck's findings with a reviewed list of
// accepted ones, so that `make vulncheck` fails on every new vulnerability
// that the remediator's code reaches and on every accepted entry that no
// longer occurs.
//
// It reads the JSON stream of `govulncheck -format json` (standard input or
// -in) and keeps the symbol-level findings: those whose trace reaches a
// vulnerable function, which govulncheck reports as "your code is affected".
// Findings that only import a vulnerable package or only require a vulnerable
// module are ignored, as govulncheck's own text output does. Each kept finding
// (OSV id and module) must be listed in the accepted file (-accepted, YAML):
//
//	accepted:
//	  - id: GO-2026-4350
//	    module: github.com/argoproj/argo-workflows/v3
//	    reason: why it does not affect the remediator, or why it cannot be fixed here
//
// Exit codes: 0 every finding is accepted and every entry still occurs;
// 1 a finding is not accepted or an entry is stale (each is named);
// 2 bad input (unreadable stream, no govulncheck config message, bad list).
//
// Usage:
//
//	govulncheck -db file://$PWD/bin/vulndb/<version> -format json ./... |
//		go run ./hack/vulncheck -accepted hack/vulncheck/accepted.yaml
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vulncheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	acceptedPath := fs.String("accepted", "hack/vulncheck/accepted.yaml", "reviewed list of accepted findings (YAML)")
	inPath := fs.String("in", "-", "govulncheck -format json output; - is standard input")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	accepted, err := loadAccepted(*acceptedPath)
	if err != nil {
		fmt.Fprintf(stderr, "vulncheck: %v\n", err)
		return 2
	}
	in := stdin
	if *inPath != "-" {
		f, err := os.Open(*inPath)
		if err != nil {
			fmt.Fprintf(stderr, "vulncheck: %v\n", err)
			return 2
		}
		defer f.Close()
		in = f
	}
	scan, err := readScan(in)
	if err != nil {
		fmt.Fprintf(stderr, "vulncheck: reading %s: %v\n", *inPath, err)
		return 2
	}
	rep := compare(scan.findings, accepted)
	rep.print(stdout, scan)
	if len(rep.unknown) > 0 || len(rep.stale) > 0 {
		return 1
	}
	return 0
}

// key names a finding: the same OSV entry in the same module, however many
// call paths reach it.
type key struct{ id, module string }

func (k key) String() string { return k.id + " (" + k.module + ")" }

// finding is one symbol-level finding, summarised.
type finding struct {
	key
	version string // the module version in use
	fixed   string // the first fixed version; empty when there is none
	symbol  string // the vulnerable function reached, e.g. "html/template.Template.Execute"
	entry   string // where the shortest trace leaves our code, e.g. "internal/notify.Sender.Send"
	traces  int    // how many traces reach it
	depth   int    // the length of the shortest trace, the one shown
	summary string // the OSV summary
}

// scan is what readScan keeps from a govulncheck stream.
type scan struct {
	scanner   string // govulncheck's version
	goVersion string
	db        string
	findings  map[key]*finding
	ignored   int // package- and module-level findings
}

// The subset of govulncheck's JSON protocol (golang.org/x/vuln/internal/govulncheck) read here.
type message struct {
	Config *struct {
		ScannerVersion string `json:"scanner_version"`
		DB             string `json:"db"`
		GoVersion      string `json:"go_version"`
		ScanLevel      string `json:"scan_level"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

// frame is one function of a trace; the first is the vulnerable one, the last
// the entry point in our code.
type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

func (f frame) String() string { return f.in(f.Package) }

// local is the frame with its package path relative to its module, for
// frames in our own code.
func (f frame) local() string { return f.in(strings.TrimPrefix(f.Package, f.Module+"/")) }

func (f frame) in(pkg string) string {
	s := pkg + "."
	if f.Receiver != "" {
		s += strings.TrimPrefix(f.Receiver, "*") + "."
	}
	return s + f.Function
}

// readScan decodes the stream and keeps the symbol-level findings. It fails
// when the stream is not JSON, has no config message (govulncheck did not
// run) or was not a symbol-level scan.
func readScan(r io.Reader) (*scan, error) {
	s := &scan{findings: map[key]*finding{}}
	summaries := map[string]string{}
	var sawConfig bool
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decoding govulncheck JSON: %w", err)
		}
		switch {
		case m.Config != nil:
			if m.Config.ScanLevel != "symbol" {
				return nil, fmt.Errorf("govulncheck scan level is %q, want symbol (do not pass -scan)", m.Config.ScanLevel)
			}
			sawConfig = true
			s.scanner, s.goVersion, s.db = m.Config.ScannerVersion, m.Config.GoVersion, m.Config.DB
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil:
			t := m.Finding.Trace
			if len(t) == 0 {
				return nil, fmt.Errorf("finding %s has an empty trace", m.Finding.OSV)
			}
			if t[0].Function == "" {
				s.ignored++
				continue
			}
			k := key{m.Finding.OSV, t[0].Module}
			f := s.findings[k]
			if f == nil {
				f = &finding{key: k, version: t[0].Version, fixed: m.Finding.FixedVersion}
				s.findings[k] = f
			}
			f.traces++
			// Show the shortest trace; among equals the first by name, so
			// that the output does not depend on govulncheck's order.
			sym, entry := t[0].String(), t[len(t)-1].local()
			if f.depth == 0 || len(t) < f.depth || len(t) == f.depth && sym+" "+entry < f.symbol+" "+f.entry {
				f.symbol, f.entry, f.depth = sym, entry, len(t)
			}
		}
	}
	if !sawConfig {
		return nil, errors.New("no govulncheck config message: is this the output of govulncheck -format json?")
	}
	for k, f := range s.findings {
		f.summary = summaries[k.id]
	}
	return s, nil
}

// accepted is one reviewed entry of the accepted list.
type accepted struct {
	ID     string `json:"id"`
	Module string `json:"module"`
	Reason string `json:"reason"`
}

// loadAccepted reads and validates the list; every problem is reported.
func loadAccepted(path string) (map[key]accepted, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading accepted list: %w", err)
	}
	var doc struct {
		Accepted []accepted `json:"accepted"`
	}
	if err := yaml.UnmarshalStrict(b, &doc); err != nil {
		return nil, fmt.Errorf("accepted list %s: %w", path, err)
	}
	out := map[key]accepted{}
	var errs []error
	for i, a := range doc.Accepted {
		where := fmt.Sprintf("accepted list %s: entry %d (%s)", path, i+1, a.ID)
		switch {
		case !strings.HasPrefix(a.ID, "GO-"):
			errs = append(errs, fmt.Errorf("%s: id %q is not a Go vulnerability id (GO-YYYY-NNNN)", where, a.ID))
		case a.Module == "":
			errs = append(errs, fmt.Errorf("%s: module is empty (stdlib for the standard library)", where))
		case strings.TrimSpace(a.Reason) == "":
			errs = append(errs, fmt.Errorf("%s: reason is empty", where))
		}
		k := key{a.ID, a.Module}
		if _, dup := out[k]; dup {
			errs = append(errs, fmt.Errorf("%s: %s is listed twice", where, k))
		}
		out[k] = a
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// report is the comparison of the findings with the accepted list.
type report struct {
	accepted []*finding // found and accepted
	unknown  []*finding // found, not accepted
	stale    []key      // accepted, not found
}

func compare(found map[key]*finding, list map[key]accepted) report {
	var r report
	for k, f := range found {
		if _, ok := list[k]; ok {
			r.accepted = append(r.accepted, f)
		} else {
			r.unknown = append(r.unknown, f)
		}
	}
	for k := range list {
		if _, ok := found[k]; !ok {
			r.stale = append(r.stale, k)
		}
	}
	byKey := func(a, b *finding) int { return strings.Compare(a.String(), b.String()) }
	slices.SortFunc(r.accepted, byKey)
	slices.SortFunc(r.unknown, byKey)
	slices.SortFunc(r.stale, func(a, b key) int { return strings.Compare(a.String(), b.String()) })
	return r
}

func (r report) print(w io.Writer, s *scan) {
	fmt.Fprintf(w, "govulncheck %s, %s, %s: %d findings reach vulnerable code (%d accepted); %d package- or module-level findings ignored\n",
		s.scanner, s.goVersion, s.db, len(r.accepted)+len(r.unknown), len(r.accepted), s.ignored)
	for _, f := range r.accepted {
		fmt.Fprintf(w, "  accepted %s %s: %s via %s\n", f, f.version, f.symbol, f.entry)
	}
	for _, f := range r.unknown {
		fixed := "no fixed version"
		if f.fixed != "" {
			fixed = "fixed in " + f.fixed
		}
		fmt.Fprintf(w, "NEW %s %s (%s): %s\n    reaches %s via %s (%d traces); fix it or add it with a reason to the accepted list\n",
			f, f.version, fixed, f.summary, f.symbol, f.entry, f.traces)
	}
	for _, k := range r.stale {
		fmt.Fprintf(w, "STALE %s: accepted but no longer found; remove it from the accepted list\n", k)
	}
}
