package cetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/notify"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// dataSchema compiles docs/cloudevent.schema.json once.
func dataSchema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		_, here, _, _ := runtime.Caller(0)
		path := filepath.Join(filepath.Dir(here), "..", "..", "docs", "cloudevent.schema.json")
		var f *os.File
		if f, schemaErr = os.Open(path); schemaErr != nil {
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = fmt.Errorf("%s: %w", path, err)
			return
		}
		c := jsonschema.NewCompiler()
		if schemaErr = c.AddResource(notify.DataSchema, doc); schemaErr != nil {
			return
		}
		schema, schemaErr = c.Compile(notify.DataSchema)
	})
	return schema, schemaErr
}

// ValidateEvent checks a run's event against the published schema of its
// data (docs/cloudevent.schema.json) and its dataschema attribute; a
// sweep's summary event is not a run's and passes.
func ValidateEvent(typ, dataSchemaURL string, data []byte) error {
	if typ == notify.SweepType || !strings.HasPrefix(typ, notify.TypePrefix) {
		return nil
	}
	if dataSchemaURL != notify.DataSchema {
		return fmt.Errorf("event %s: dataschema %q, want %q", typ, dataSchemaURL, notify.DataSchema)
	}
	s, err := dataSchema()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("event %s: data: %w", typ, err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("event %s: data does not match %s: %w", typ, notify.DataSchema, err)
	}
	return nil
}

// ValidateStructured checks a structured-mode event's JSON body.
func ValidateStructured(body []byte) error {
	var ev struct {
		Type       string          `json:"type"`
		DataSchema string          `json:"dataschema"`
		Data       json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return fmt.Errorf("event body: %w", err)
	}
	return ValidateEvent(ev.Type, ev.DataSchema, ev.Data)
}
