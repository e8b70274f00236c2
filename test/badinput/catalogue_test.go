package badinput

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"
	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/config"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

// bad is one malformed value for a variable.
type bad struct {
	what, value string
	// also overrides other variables, for values that are only wrong in
	// combination (a pod without a node, a token file without a sink).
	also map[string]string
	// args are the command-line arguments ("sweep").
	args []string
}

// variables lists every REMEDIATOR_* variable the binary reads, from
// the Config struct itself.
func variables(t *testing.T) []string {
	t.Helper()
	var keys strings.Builder
	if err := envconfig.Usagef(config.Prefix, &config.Config{}, &keys, "{{range .}}{{usage_key .}}\n{{end}}"); err != nil {
		t.Fatal(err)
	}
	return strings.Fields(keys.String())
}

// catalogue returns the malformed values of every variable. Files are
// made in dir.
func catalogue(t *testing.T, dir string) map[string][]bad {
	long := func(n int) string { return strings.Repeat("a", n) }
	missing := filepath.Join(dir, "does-not-exist")
	empty := support.WriteFile(t, dir, "empty", "")
	blank := support.WriteFile(t, dir, "blank", " \n\t\n")
	malformed := support.WriteFile(t, dir, "malformed-kubeconfig", "apiVersion: v1\nkind: Config\nclusters: {not a list\n")
	noContext := support.WriteFile(t, dir, "no-context-kubeconfig", "apiVersion: v1\nkind: Config\nclusters: []\n")
	durations := func(zeroAllowed bool) []bad {
		b := []bad{{what: "empty", value: ""}, {what: "bad duration", value: "ten"}, {what: "no unit", value: "5"},
			{what: "negative", value: "-1s"}, {what: "unicode", value: "5秒"}}
		if !zeroAllowed {
			b = append(b, bad{what: "zero", value: "0s"})
		}
		return b
	}
	sweep, noNode := []string{"sweep"}, map[string]string{"REMEDIATOR_NODE_ID": ""}
	watch := []string{"watch"}
	// The pod watcher takes no workflow or node.
	pods, podsOnly := []string{"pods"}, map[string]string{"REMEDIATOR_NODE_ID": "", "REMEDIATOR_WORKFLOW": ""}
	// The wait's evidence is valid only with the pod it is about.
	const podUID = "3f1c0b52-6e0e-4c8e-9d7e-1a2b3c4d5e6f"
	withUID := map[string]string{"REMEDIATOR_POD_UID": podUID}
	evidence := map[string]string{"REMEDIATOR_POD_UID": podUID, "REMEDIATOR_WAIT_EXIT_CODE": "137"}
	urls := []bad{{what: "relative", value: "/x"}, {what: "no scheme", value: "events.example.com/x"},
		{what: "ftp", value: "ftp://h/x"}, {what: "no host", value: "http://"}, {what: "no scheme, no host", value: "://"},
		{what: "unparsable", value: "http://[::1"}, {what: "unicode scheme", value: "hëttp://h/x"}}
	return map[string][]bad{
		"REMEDIATOR_NAMESPACE": {{what: "empty (required)", value: ""}, {what: "too long (64)", value: long(64)},
			{what: "uppercase", value: "Team-A"}, {what: "underscore", value: "team_a"}, {what: "leading dash", value: "-team"},
			{what: "dot", value: "team.a"}, {what: "unicode", value: "équipe"}, {what: "space", value: "team a"},
			{what: "sweep: invalid", value: "Team_A", args: sweep, also: noNode}},
		"REMEDIATOR_WORKFLOW": {{what: "empty (required)", value: ""}, {what: "too long (254)", value: long(254)},
			{what: "uppercase", value: "ETL"}, {what: "underscore", value: "etl_nightly"}, {what: "leading dash", value: "-etl"},
			{what: "unicode", value: "étl"}, {what: "slash", value: "team-a/etl"},
			{what: "pods: not used", value: "etl", args: pods, also: noNode}},
		"REMEDIATOR_NODE_ID": {{what: "too long (254)", value: long(254)}, {what: "uppercase", value: "Etl-1"},
			{what: "underscore", value: "etl_1"}, {what: "leading dash", value: "-etl-1"}, {what: "unicode", value: "节点-1"},
			{what: "sweep: not used", value: "etl-1", args: sweep}},
		"REMEDIATOR_POD_NAME": {{what: "too long (254)", value: long(254)}, {what: "uppercase", value: "Pod"},
			{what: "underscore", value: "pod_1"}, {what: "leading dash", value: "-pod"}, {what: "unicode", value: "pöd"},
			{what: "without a node", value: "etl-pod", also: map[string]string{"REMEDIATOR_NODE_ID": ""}}},
		"REMEDIATOR_POD_UID": {{what: "too long (64)", value: long(64)}, {what: "spaces", value: "not a uid"},
			{what: "unicode", value: "ü-1"}, {what: "leading dash", value: "-1b6e"},
			{what: "without a node", value: "9c1d2f35-1b6e-4a8f-9a51-0d4cbd1e2a77", also: map[string]string{"REMEDIATOR_NODE_ID": ""}}},
		"REMEDIATOR_REASON": {{what: "empty", value: ""}, {what: "unknown", value: "because"},
			{what: "wrong case", value: "oomkilled"}, {what: "trailing space", value: "OOMKilled "}},
		"REMEDIATOR_GRACE_PERIOD":   durations(true),
		"REMEDIATOR_DEADLINE":       append(durations(false), bad{what: "not above the grace period", value: "10s"}),
		"REMEDIATOR_VERIFY_TIMEOUT": durations(true),
		"REMEDIATOR_SINK_URL":       urls,
		"REMEDIATOR_SINK_TOKEN_FILE": {{what: "missing", value: missing}, {what: "empty", value: empty},
			{what: "blank", value: blank}, {what: "a directory", value: dir},
			{what: "without a sink", value: blank, also: map[string]string{"REMEDIATOR_SINK_URL": ""}}},
		"REMEDIATOR_SINK_TIMEOUT": durations(false),
		"REMEDIATOR_SINK_RETRIES": {{what: "empty", value: ""}, {what: "word", value: "many"}, {what: "negative", value: "-1"},
			{what: "too many", value: "21"}, {what: "fraction", value: "1.5"}},
		"REMEDIATOR_CLUSTER_NAME": {{what: "empty", value: ""}, {what: "space", value: "Prod EU"}, {what: "underscore", value: "prod_eu"},
			{what: "leading dash", value: "-prod"}, {what: "too long (254)", value: long(254)}, {what: "unicode", value: "prüd"}},
		"REMEDIATOR_ARGO_UI_URL": urls,
		"REMEDIATOR_SWEEP_CONCURRENCY": {{what: "empty", value: ""}, {what: "zero", value: "0"}, {what: "negative", value: "-1"},
			{what: "too many", value: "65"}, {what: "word", value: "four"}, {what: "sweep: zero", value: "0", args: sweep, also: noNode}},
		"REMEDIATOR_DRY_RUN": {{what: "empty", value: ""}, {what: "maybe", value: "maybe"}, {what: "number", value: "2"},
			{what: "yes", value: "yes"}},
		"REMEDIATOR_NUDGE": {{what: "empty", value: ""}, {what: "maybe", value: "maybe"}, {what: "number", value: "2"}},
		"REMEDIATOR_LOG_LEVEL": {{what: "empty", value: ""}, {what: "unknown", value: "loud"}, {what: "trace", value: "trace"},
			{what: "upper case", value: "DEBUG"}},
		"REMEDIATOR_LOG_FORMAT": {{what: "empty", value: ""}, {what: "unknown", value: "xml"}, {what: "upper case", value: "JSON"}},
		"REMEDIATOR_WAIT_EXIT_CODE": {{what: "word", value: "killed", also: withUID}, {what: "fraction", value: "1.5", also: withUID},
			{what: "past int32", value: "4294967296", also: withUID}, {what: "sweep: not used", value: "137", args: sweep, also: noNode}},
		"REMEDIATOR_WAIT_FINISHED_AT": {{what: "number", value: "42", also: evidence},
			{what: "not a time", value: "yesterday", also: evidence},
			{what: "without an exit code", value: "2026-12-04T16:52:42Z", also: map[string]string{"REMEDIATOR_POD_UID": podUID}}},
		"REMEDIATOR_HINT_MAX_MEMORY": {{what: "word", value: "lots"}, {what: "below 64Mi", value: "63Mi"},
			{what: "negative", value: "-1Gi"}, {what: "zero", value: "0"}},
		"REMEDIATOR_RESUBMIT": {{what: "maybe", value: "maybe"}, {what: "empty", value: ""}, {what: "number", value: "2"},
			{what: "not the watch", value: "true"}, {what: "sweep", value: "true", args: sweep, also: noNode},
			{what: "watch: word", value: "yes", args: watch, also: noNode}},
		"REMEDIATOR_RESUBMIT_MAX_MEMORY": {{what: "word", value: "lots"}, {what: "below 64Mi", value: "63Mi"},
			{what: "negative", value: "-1Gi"}, {what: "zero", value: "0"}, {what: "empty", value: ""},
			{what: "watch: unit typo", value: "16GB!", args: watch, also: noNode}},
		"REMEDIATOR_RESUBMIT_MAX_ATTEMPTS": {{what: "word", value: "three"}, {what: "zero", value: "0"}, {what: "negative", value: "-1"},
			{what: "too many", value: "11"}, {what: "fraction", value: "1.5"}, {what: "empty", value: ""}},
		"REMEDIATOR_WATCH_INTERVAL": {{what: "watch: zero", value: "0s", args: watch, also: noNode},
			{what: "watch: word", value: "soon", args: watch, also: noNode}},
		"REMEDIATOR_METRICS_ADDRESS": {{what: "watch: no port", value: "localhost", args: watch, also: noNode},
			{what: "watch: word", value: "metrics", args: watch, also: noNode},
			{what: "pods: no port", value: "localhost", args: pods, also: podsOnly}},
		"REMEDIATOR_PODS_ADDRESS": {{what: "pods: no port", value: "localhost", args: pods, also: podsOnly},
			{what: "pods: word", value: "grpc", args: pods, also: podsOnly}, {what: "pods: empty", value: "", args: pods, also: podsOnly}},
		"REMEDIATOR_KUBECONFIG": {{what: "missing", value: missing}, {what: "a directory", value: dir},
			{what: "empty file", value: empty}, {what: "malformed YAML", value: malformed}, {what: "no context", value: noContext}},
	}
}

// validEnv is a complete, valid environment whose kubeconfig and sink
// point at the given servers.
func validEnv(t *testing.T, dir, kubeURL, sinkURL string) map[string]string {
	return map[string]string{
		"REMEDIATOR_NAMESPACE":       "team-a",
		"REMEDIATOR_WORKFLOW":        "etl-nightly",
		"REMEDIATOR_NODE_ID":         "etl-nightly-3311720384",
		"REMEDIATOR_KUBECONFIG":      support.Kubeconfig(t, dir, "kubeconfig", &rest.Config{Host: kubeURL, BearerToken: "catalogue"}),
		"REMEDIATOR_SINK_URL":        sinkURL,
		"REMEDIATOR_SINK_TOKEN_FILE": support.WriteFile(t, dir, "token", "catalogue-token\n"),
	}
}

// TestCatalogue runs the real binary once per malformed value of every
// variable: each run exits 2, names that variable and no other, prints
// nothing on stdout, and sends no request to the API server or the sink.
func TestCatalogue(t *testing.T) {
	dir := t.TempDir()
	kube := newRecorder(t, http.StatusForbidden, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}`)
	sink := newRecorder(t, http.StatusAccepted, "")
	base := validEnv(t, dir, kube.srv.URL, sink.srv.URL)

	// The recorders can fail the test: a valid environment reaches both.
	t.Run("valid environment reaches the servers", func(t *testing.T) {
		r := run(t, base)
		if r.Code == 2 {
			t.Fatalf("the valid environment is rejected:\n%s", r.Stderr)
		}
		if len(kube.requests()) == 0 || len(sink.requests()) == 0 {
			t.Fatalf("requests: %d to the API server, %d to the sink; want some to each", len(kube.requests()), len(sink.requests()))
		}
	})

	cases := catalogue(t, dir)
	perVariable := map[string]int{}
	for _, v := range variables(t) {
		if len(cases[v]) == 0 {
			t.Errorf("%s has no malformed values in the catalogue", v)
		}
		perVariable[v] = 0
	}
	for v := range cases {
		if _, ok := perVariable[v]; !ok {
			t.Errorf("the catalogue has values for %s, which the remediator does not read", v)
		}
	}
	names := make([]string, 0, len(cases))
	for v := range cases {
		names = append(names, v)
	}
	sort.Strings(names)
	for _, v := range names {
		for _, b := range cases[v] {
			t.Run(fmt.Sprintf("%s/%s", v, b.what), func(t *testing.T) {
				kube.reset()
				sink.reset()
				env := support.Merge(support.Merge(base, b.also), map[string]string{v: b.value})
				r := run(t, env, b.args...)
				if r.Code != 2 {
					t.Errorf("exit %d, want 2", r.Code)
				}
				if got := named(r.Stderr); !reflect.DeepEqual(got, []string{v}) {
					t.Errorf("the problems name %v, want [%s]", got, v)
				}
				if r.Stdout != "" {
					t.Errorf("stdout: %q", r.Stdout)
				}
				if n, m := len(kube.requests()), len(sink.requests()); n+m > 0 {
					t.Errorf("%d requests to the API server, %d to the sink; want none", n, m)
				}
				if t.Failed() {
					t.Logf("stderr:\n%s", r.Stderr)
				}
			})
			perVariable[v]++
		}
	}

	// Every problem at once: one run with a bad value for each variable
	// whose value is wrong on its own names them all.
	t.Run("all at once", func(t *testing.T) {
		kube.reset()
		sink.reset()
		env := map[string]string{}
		var want []string
		for _, v := range names {
			found := false
			var b bad
			for _, c := range cases[v] {
				if c.also == nil && c.args == nil && c.value != "" {
					b, found = c, true
					break
				}
			}
			if !found {
				// Wrong only in combination or in another mode (the
				// wait's evidence, the watch's settings): left out.
				continue
			}
			env[v] = b.value
			want = append(want, v)
		}
		r := run(t, env)
		if got := named(r.Stderr); r.Code != 2 || !reflect.DeepEqual(got, want) {
			t.Errorf("exit %d, named %v\nwant 2 and %v\nstderr:\n%s", r.Code, got, want, r.Stderr)
		}
		if n, m := len(kube.requests()), len(sink.requests()); n+m > 0 {
			t.Errorf("%d requests to the API server, %d to the sink; want none", n, m)
		}
	})

	// A misspelt variable would silently be ignored by envconfig: a
	// REMEDIATOR_DRYRUN=true run would then write. It is refused instead.
	for _, typo := range []string{"REMEDIATOR_DRYRUN", "REMEDIATOR_SINK_TOKEN", "REMEDIATOR_GRACE"} {
		t.Run("unknown/"+typo, func(t *testing.T) {
			kube.reset()
			sink.reset()
			r := run(t, support.Merge(base, map[string]string{typo: "true"}))
			if got := named(r.Stderr); r.Code != 2 || !reflect.DeepEqual(got, []string{typo}) {
				t.Errorf("exit %d, named %v; want 2 and [%s]\nstderr:\n%s", r.Code, got, typo, r.Stderr)
			}
			if n, m := len(kube.requests()), len(sink.requests()); n+m > 0 {
				t.Errorf("%d requests to the API server, %d to the sink; want none", n, m)
			}
		})
	}

	total := 0
	for _, v := range names {
		total += perVariable[v]
	}
	t.Logf("%d malformed values over %d variables: %v", total, len(perVariable), perVariable)
}

// TestArguments: the binary takes no flags; an argument is refused with
// exit 2, and its value (it may be a token) is not echoed.
func TestArguments(t *testing.T) {
	const secret = "tok-3d5f0c9a7b"
	for _, args := range [][]string{{"--sink-token=" + secret}, {"--token=" + secret}, {"sweep", "--namespace=" + secret}, {"nonsense"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := run(t, map[string]string{}, args...)
			if r.Code != 2 || !strings.Contains(r.Stderr, "unexpected argument") || !strings.Contains(r.Stderr, "REMEDIATOR_") {
				t.Errorf("exit %d, stderr %q; want 2 and a pointer to the REMEDIATOR_* variables", r.Code, r.Stderr)
			}
			if strings.Contains(r.Stdout+r.Stderr, secret) {
				t.Errorf("the argument's value is echoed: %q", r.Stderr)
			}
		})
	}
	t.Run("--help", func(t *testing.T) {
		r := run(t, map[string]string{}, "--help")
		if r.Code != 0 {
			t.Fatalf("exit %d", r.Code)
		}
		for _, v := range variables(t) {
			if !strings.Contains(r.Stdout, v) {
				t.Errorf("--help does not list %s", v)
			}
		}
		line := ""
		for _, l := range strings.Split(r.Stdout, "\n") {
			if strings.HasPrefix(l, "REMEDIATOR_SINK_TOKEN_FILE") {
				line = l
			}
		}
		if !strings.Contains(line, "never the token itself") {
			t.Errorf("--help does not say the token comes from a file only: %q", line)
		}
		if strings.Contains(strings.ToLower(r.Stdout), "--token") || strings.Contains(r.Stdout, "REMEDIATOR_SINK_TOKEN ") {
			t.Errorf("--help offers a way to pass the token itself:\n%s", r.Stdout)
		}
	})
}

func TestMainIsBuilt(t *testing.T) {
	if info, err := os.Stat(binary); err != nil || info.Mode()&0o111 == 0 {
		t.Fatalf("no executable remediator at %q: %v", binary, err)
	}
}
