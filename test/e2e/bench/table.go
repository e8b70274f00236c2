package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/e2e"
)

// stat summarises a cell: the median and max over its runs, where a run
// that never ended within the cap counts as longer than any that did.
type stat struct {
	ended  []time.Duration // sorted
	capped int
	cap    time.Duration
}

func (st stat) runs() int { return len(st.ended) + st.capped }

// median returns the median, and false when it is a capped run.
func (st stat) median() (time.Duration, bool) {
	n := st.runs()
	if n == 0 {
		return 0, false
	}
	at := func(i int) (time.Duration, bool) {
		if i < len(st.ended) {
			return st.ended[i], true
		}
		return 0, false
	}
	if n%2 == 1 {
		return at(n / 2)
	}
	a, okA := at(n/2 - 1)
	b, okB := at(n / 2)
	return (a + b) / 2, okA && okB
}

func (st stat) String() string {
	if st.runs() == 0 {
		return "–"
	}
	never := fmt.Sprintf("> %s", secs(st.cap))
	med, ok := st.median()
	m := never
	if ok {
		m = secs(med)
	}
	max := never
	if st.capped == 0 {
		max = secs(st.ended[len(st.ended)-1])
	}
	s := m + " / " + max
	if st.capped > 0 {
		s += fmt.Sprintf(" (%d of %d never ended)", st.capped, st.runs())
	}
	return s
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func oom(s Sample) time.Time        { return s.OOM }
func nodeFailed(s Sample) time.Time { return s.NodeFailed }

// measure collects the time from a sample's moment from to its terminal
// phase, over the runs of one cell. The cap shown is the longest of the
// cell's runs (cap when they recorded none).
func measure(samples []Sample, cap time.Duration, version, scenario, mode string, from func(Sample) time.Time) stat {
	st := stat{cap: 0}
	for _, s := range samples {
		if s.Version != version || s.Scenario != scenario || s.Mode != mode || s.Err != "" {
			continue
		}
		runCap := s.Cap
		if runCap == 0 {
			runCap = cap
		}
		st.cap = max(st.cap, runCap)
		switch {
		case s.Capped():
			st.capped++
		case !from(s).IsZero():
			st.ended = append(st.ended, s.Terminal.Sub(from(s)))
		}
	}
	if st.cap == 0 {
		st.cap = cap
	}
	slices.Sort(st.ended)
	return st
}

// notes lists what is worth saying about a cell's samples: reruns, the
// remediator's outcomes and reasons, the phases, errors.
func notes(samples []Sample, version, scenario string) string {
	counts := map[string]int{}
	var keys []string
	add := func(k string) {
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
	}
	for _, s := range samples {
		if s.Version != version || s.Scenario != scenario {
			continue
		}
		switch {
		case s.Err != "":
			add(s.Mode + ": error " + s.Err)
		case s.Capped():
			add(s.Mode + ": still Running at the cap")
		default:
			what := s.Phase
			if s.Reran {
				what += " after a rerun"
			}
			add(s.Mode + ": " + what)
		}
		if s.Outcome != "" {
			add(fmt.Sprintf("%s: %s (%s)", s.Mode, s.Outcome, s.Reason))
		}
		if s.OutputsKept != nil && s.Err == "" {
			add(s.Mode + ": " + outputsNote(s))
		}
	}
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s ×%d", k, counts[k]))
	}
	return strings.Join(out, "; ")
}

// outputsNote says what became of the outputs the victim's wait container
// reported late.
func outputsNote(s Sample) string {
	return e2e.LoweredOutcome(s.Reran, s.Terminal.Before(s.WaitReported), *s.OutputsKept)
}

// lost counts the runs of a cell whose victim's outputs were not kept, of
// those that recorded it ("–" where the victim reports none).
func lost(samples []Sample, version, scenario, mode string) string {
	n, of := 0, 0
	for _, s := range samples {
		if s.Version != version || s.Scenario != scenario || s.Mode != mode || s.Err != "" || s.OutputsKept == nil {
			continue
		}
		of++
		if !*s.OutputsKept {
			n++
		}
	}
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%d/%d", n, of)
}

// printTable writes the markdown table (median / max per cell) and the
// notes.
func printTable(w io.Writer, samples []Sample, cap time.Duration, versions, scenarios []string) {
	fmt.Fprintln(w, "| controller | scenario | upstream default: OOM → terminal | lowered timeouts: OOM → terminal | remediator: OOM → terminal | remediator + nudge: OOM → terminal | outputs lost (lowered; remediator; nudge) | speed-up vs upstream (medians: remediator, nudge) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, v := range versions {
		for _, sc := range scenarios {
			up := measure(samples, cap, v, sc, Upstream, oom)
			low := measure(samples, cap, v, sc, Lowered, oom)
			rem := measure(samples, cap, v, sc, Remediator, oom)
			nud := measure(samples, cap, v, sc, Nudge, oom)
			if up.runs()+low.runs()+rem.runs()+nud.runs() == 0 {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s; %s; %s | %s |\n", v, sc, up, low, rem, nud,
				lost(samples, v, sc, Lowered), lost(samples, v, sc, Remediator), lost(samples, v, sc, Nudge),
				speedUp(up, rem, nud))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Node failed → terminal (median / max):")
	fmt.Fprintln(w)
	for _, v := range versions {
		for _, sc := range scenarios {
			var parts []string
			for _, m := range []string{Upstream, Lowered, Remediator, Nudge} {
				if st := measure(samples, cap, v, sc, m, nodeFailed); st.runs() > 0 {
					parts = append(parts, m+" "+st.String())
				}
			}
			if len(parts) > 0 {
				fmt.Fprintf(w, "- %s %s: %s\n", v, sc, strings.Join(parts, "; "))
			}
		}
	}
	fmt.Fprintln(w)
	for _, v := range versions {
		for _, sc := range scenarios {
			if n := notes(samples, v, sc); n != "" {
				fmt.Fprintf(w, "- %s %s: %s\n", v, sc, n)
			}
		}
	}
}
func speedUp(up, rem, nud stat) string {
	if up.runs() == 0 {
		return "–"
	}
	upMed, upEnded := up.median()
	var parts []string
	for _, x := range []struct {
		name string
		st   stat
	}{{"remediator", rem}, {"nudge", nud}} {
		med, ok := x.st.median()
		switch {
		case !ok || med <= 0:
		case upEnded:
			parts = append(parts, fmt.Sprintf("%s %.1f×", x.name, upMed.Seconds()/med.Seconds()))
		default:
			parts = append(parts, fmt.Sprintf("%s > %.1f×", x.name, up.cap.Seconds()/med.Seconds()))
		}
	}
	return strings.Join(parts, ", ")
}
