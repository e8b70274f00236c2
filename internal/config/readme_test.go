package config

import (
	"os"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"
)

// TestREADMEDocumentsEveryVariable keeps the README's configuration table
// in step with the Config struct.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
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
