package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kelseyhightower/envconfig"
)

// Variables returns the name of every variable the remediator reads.
func Variables() []string {
	var b strings.Builder
	_ = envconfig.Usagef(Prefix, &Config{}, &b, "{{range .}}{{usage_key .}}\n{{end}}")
	return strings.Fields(b.String())
}

// unknownVariables names each REMEDIATOR_ variable of environ that the
// remediator does not read: a misspelt REMEDIATOR_DRYRUN=true must not
// silently become a real run. Kubernetes' service links of a Service named
// "remediator" (REMEDIATOR_SERVICE_HOST, REMEDIATOR_PORT_443_TCP, ...) are
// not ours and are let through.
func unknownVariables(environ []string) []error {
	known := Variables()
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, Prefix+"_") || slices.Contains(known, name) || serviceLink(name) {
			continue
		}
		msg := fmt.Sprintf("%s: is not a variable of the remediator", name)
		if s := closest(name, known); s != "" {
			msg += "; did you mean " + s + "?"
		}
		errs = append(errs, fmt.Errorf("%s (see remediator --help)", msg))
	}
	return errs
}

func serviceLink(name string) bool {
	rest := strings.TrimPrefix(name, Prefix+"_")
	return strings.HasPrefix(rest, "SERVICE_") || rest == "PORT" || strings.HasPrefix(rest, "PORT_")
}

// closest returns the known name nearest to name, if it is near enough to
// be a typo.
func closest(name string, known []string) string {
	best, bestDist := "", 5
	for _, k := range known {
		if d := distance(strings.ReplaceAll(name, "_", ""), strings.ReplaceAll(k, "_", "")); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
