package config

import (
	"os"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"
)

// TestREADMEDocumentsEveryVariable keeps the README's configuration table
// in step with the Config struct; the variables of `remediator watch` may be
// documented in docs/operate.md instead.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	var readme []byte
	for _, f := range []string{"../../README.md", "../../docs/operate.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		readme = append(readme, b...)
	}
	var keys strings.Builder
	if err := envconfig.Usagef(Prefix, &Config{}, &keys, "{{range .}}{{usage_key .}}\n{{end}}"); err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Fields(keys.String()) {
		if !strings.Contains(string(readme), "`"+k+"`") {
			t.Errorf("README.md does not document %s", k)
		}
	}
}
