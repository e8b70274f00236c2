package monitoring

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

const (
	component = "../../manifests/components/monitoring"
	sample    = "../../docs/metrics-sample.txt"
)

// fromProcess are the metrics of client_golang's process collector the
// dashboard uses; internal/metrics's test checks they are exposed.
var fromProcess = []string{"process_resident_memory_bytes"}

var promql = parser.NewParser(parser.Options{})

// exposed lists the series names the remediator exposes: each family of
// the sample, with its _bucket, _sum and _count for histograms.
func exposed(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(sample)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Clone(fromProcess)
	for name, fam := range fams {
		names = append(names, name)
		if fam.GetType().String() == "HISTOGRAM" {
			names = append(names, name+"_bucket", name+"_sum", name+"_count")
		}
	}
	return names
}

// unknownMetrics parses expr and returns the metric names it selects that
// are not in names.
func unknownMetrics(expr string, names []string) ([]string, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var unknown []string
	selects := 0
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			selects++
			if !slices.Contains(names, vs.Name) {
				unknown = append(unknown, vs.Name)
			}
		}
		return nil
	})
	if selects == 0 {
		return nil, fmt.Errorf("%q selects no metric", expr)
	}
	return unknown, nil
}

func TestPrometheusRuleParses(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(component, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Kind string         `yaml:"kind"`
		Spec map[string]any `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &rule); err != nil {
		t.Fatal(err)
	}
	spec, err := yaml.Marshal(rule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(spec, false, model.UTF8Validation, promql, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if rule.Kind != "PrometheusRule" || len(errs) > 0 {
		t.Fatalf("kind %s; rulefmt: %v", rule.Kind, errs)
	}
	names := exposed(t)
	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			unknown, err := unknownMetrics(r.Expr, names)
			if err != nil || len(unknown) > 0 {
				t.Errorf("alert %s: %v; metrics not exposed: %v", r.Alert, err, unknown)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s lacks a severity, summary or description", r.Alert)
			}
		}
	}
	// docs/operate.md describes each alert.
	doc, err := os.ReadFile("../../docs/operate.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if !strings.Contains(string(doc), "`"+a+"`") {
			t.Errorf("docs/operate.md does not describe %s", a)
		}
	}
	if len(alerts) < 2 {
		t.Errorf("alerts %v", alerts)
	}
}

func TestDashboardQueriesExposedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(component, "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard: title %q, uid %q, %d panels", d.Title, d.UID, len(d.Panels))
	}
	names := exposed(t)
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			// Grafana's variables, as Grafana substitutes them.
			expr := strings.ReplaceAll(q.Expr, "$job", ".*")
			if unknown, err := unknownMetrics(expr, names); err != nil || len(unknown) > 0 {
				t.Errorf("panel %q: %v; metrics not exposed: %v", p.Title, err, unknown)
			}
		}
	}
}

// TestChecksCanFail: a misspelt metric and a broken expression are caught.
func TestChecksCanFail(t *testing.T) {
	names := []string{"argo_oom_remediator_stuck_nodes"}
	if u, err := unknownMetrics("sum(argo_oom_remediator_stuck_node)", names); err != nil || len(u) != 1 {
		t.Errorf("misspelt metric: %v %v", u, err)
	}
	if _, err := unknownMetrics("sum(argo_oom_remediator_stuck_nodes", names); err == nil {
		t.Error("a broken expression parsed")
	}
	if _, err := unknownMetrics("vector(1)", names); err == nil {
		t.Error("an expression selecting nothing passed")
	}
	_, errs := rulefmt.Parse([]byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: 'sum('\n"), false,
		model.UTF8Validation, promql, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if len(errs) == 0 {
		t.Error("rulefmt accepted a broken rule")
	}
}
