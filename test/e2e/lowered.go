package e2e

// LoweredOutcome names what became of outputs reported late under the
// lowered timeouts.
func LoweredOutcome(reran, endedBeforeReport, kept bool) string {
	switch {
	case reran && kept:
		return "step reran, outputs in the node"
	case reran:
		return "step reran, outputs lost"
	case endedBeforeReport && !kept:
		return "ended before the wait's report: outputs lost"
	case endedBeforeReport:
		return "ended before the wait's report, outputs in the node"
	case kept:
		return "ended after the wait's report: outputs kept"
	}
	return "ended after the wait's report: outputs lost"
}
