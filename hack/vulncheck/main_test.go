package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixture = "testdata/govulncheck.json"

// runWith runs the command over a govulncheck stream with an accepted list.
func runWith(t *testing.T, stream, acceptedPath string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run([]string{"-accepted", acceptedPath}, strings.NewReader(stream), &out, &errOut)
	return code, out.String(), errOut.String()
}

func readFixture(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeList writes an accepted list into a temporary file and returns its path.
func writeList(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "accepted.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadScanKeepsOnlySymbolFindings(t *testing.T) {
	f, err := os.Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := readScan(f)
	if err != nil {
		t.Fatal(err)
	}
	if s.ignored != 2 {
		t.Errorf("ignored = %d, want 2 (one module-level, one package-level finding)", s.ignored)
	}
	if len(s.findings) != 2 {
		t.Fatalf("findings = %v, want GO-2000-0003 (stdlib) and GO-2000-0004 (example.com/m)", s.findings)
	}
	got := s.findings[key{"GO-2000-0003", "stdlib"}]
	if got == nil {
		t.Fatalf("GO-2000-0003 (stdlib) not kept: %v", s.findings)
	}
	// Two traces; the shorter one (html/template straight from internal/app) is shown.
	want := finding{key: got.key, version: "v1.26.8", fixed: "v1.26.9", symbol: "html/template.Template.Parse",
		entry: "internal/app.Run", traces: 2, depth: 2, summary: "Template escaping in html/template"}
	if *got != want {
		t.Errorf("GO-2000-0003 = %+v, want %+v", *got, want)
	}
	if s.findings[key{"GO-2000-0004", "example.com/m"}] == nil {
		t.Errorf("GO-2000-0004 (example.com/m) not kept: %v", s.findings)
	}
	if s.scanner != "v1.9.0" || s.goVersion != "go1.26.8" || s.db != "file:///db" {
		t.Errorf("config = %q, %q, %q; want v1.9.0, go1.26.8, file:///db", s.scanner, s.goVersion, s.db)
	}
}

func TestRunNamesNewAndStale(t *testing.T) {
	code, out, errOut := runWith(t, readFixture(t), "testdata/accepted.yaml")
	if code != 1 {
		t.Fatalf("exit code = %d, want 1; stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"accepted GO-2000-0003 (stdlib) v1.26.8: html/template.Template.Parse via internal/app.Run",
		"NEW GO-2000-0004 (example.com/m) v0.1.0 (no fixed version): Panic in example.com/m/p",
		"reaches example.com/m/p.Parse via internal/config.Load (1 traces)",
		"STALE GO-2000-0002 (example.com/onlyimported)", // only imported: not a symbol finding
		"STALE GO-2000-0005 (example.com/gone)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "GO-2000-0001") {
		t.Errorf("module-level finding GO-2000-0001 reported:\n%s", out)
	}
}

func TestRunCleanWhenEveryFindingIsAccepted(t *testing.T) {
	list := writeList(t, `accepted:
  - id: GO-2000-0003
    module: stdlib
    reason: The templates are constants of ours.
  - id: GO-2000-0004
    module: example.com/m
    reason: Only parses our own configuration.
`)
	code, out, errOut := runWith(t, readFixture(t), list)
	if code != 0 {
		t.Fatalf("exit code = %d, want 0; stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "2 findings reach vulnerable code (2 accepted); 2 package- or module-level findings ignored") {
		t.Errorf("summary line missing:\n%s", out)
	}
}

func TestRunSameIDInAnotherModuleIsNew(t *testing.T) {
	list := writeList(t, `accepted:
  - id: GO-2000-0003
    module: stdlib
    reason: ok
  - id: GO-2000-0004
    module: example.com/other
    reason: accepted for another module only
`)
	code, out, _ := runWith(t, readFixture(t), list)
	if code != 1 || !strings.Contains(out, "NEW GO-2000-0004 (example.com/m)") || !strings.Contains(out, "STALE GO-2000-0004 (example.com/other)") {
		t.Errorf("exit code %d, want 1 with GO-2000-0004 new for example.com/m and stale for example.com/other:\n%s", code, out)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	good := writeList(t, "accepted: []\n")
	for _, tc := range []struct {
		name, stream, list, want string
	}{
		{"empty stream", "", good, "no govulncheck config message"},
		{"text output instead of JSON", "=== Symbol Results ===\n", good, "decoding govulncheck JSON"},
		{"truncated stream", readFixture(t)[:700], good, "decoding govulncheck JSON"},
		{"package scan", `{"config":{"scan_level":"package"}}`, good, `scan level is "package", want symbol`},
		{"finding without trace", `{"config":{"scan_level":"symbol"}}{"finding":{"osv":"GO-2000-0009","trace":[]}}`, good, "finding GO-2000-0009 has an empty trace"},
		{"missing list", readFixture(t), filepath.Join(t.TempDir(), "nope.yaml"), "reading accepted list"},
		{"misspelt field", readFixture(t), writeList(t, "accepted:\n  - id: GO-2000-0003\n    module: stdlib\n    reasons: x\n"), `unknown field "reasons"`},
		{"entry without reason", readFixture(t), writeList(t, "accepted:\n  - id: GO-2000-0003\n    module: stdlib\n"), "entry 1 (GO-2000-0003): reason is empty"},
		{"entry without module", readFixture(t), writeList(t, "accepted:\n  - id: GO-2000-0003\n    reason: x\n"), "entry 1 (GO-2000-0003): module is empty"},
		{"bad id", readFixture(t), writeList(t, "accepted:\n  - id: CVE-2026-1\n    module: stdlib\n    reason: x\n"), `id "CVE-2026-1" is not a Go vulnerability id`},
		{"duplicate", readFixture(t), writeList(t, "accepted:\n  - {id: GO-2000-0003, module: stdlib, reason: x}\n  - {id: GO-2000-0003, module: stdlib, reason: y}\n"), "entry 2 (GO-2000-0003): GO-2000-0003 (stdlib) is listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runWith(t, tc.stream, tc.list)
			if code != 2 {
				t.Errorf("exit code = %d, want 2; stdout:\n%s", code, out)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tc.want)
			}
		})
	}
}

func TestRunReportsEveryListProblem(t *testing.T) {
	list := writeList(t, "accepted:\n  - id: GO-2000-0003\n    module: stdlib\n  - id: GO-2000-0004\n    reason: x\n")
	_, _, errOut := runWith(t, readFixture(t), list)
	for _, want := range []string{"entry 1 (GO-2000-0003): reason is empty", "entry 2 (GO-2000-0004): module is empty"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
