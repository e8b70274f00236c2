package manifests

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/config"
)

// knownVariables lists the REMEDIATOR_* variables the remediator reads, from
// its own usage text.
func knownVariables(t *testing.T) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := config.Usage(&buf); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], config.Prefix+"_") {
			names = append(names, f[0])
		}
	}
	if len(names) < 10 {
		t.Fatalf("config.Usage listed only %q", names)
	}
	return names
}

// TestPodEnvironmentIsValidConfig loads the remediator's configuration from
// the environment each pod template gives it (the ConfigMap through envFrom,
// then env, with the WorkflowTemplate's parameters at their defaults and
// workflow=x): every variable must be one the remediator knows, and the
// configuration must validate.
func TestPodEnvironmentIsValidConfig(t *testing.T) {
	known := knownVariables(t)
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			objs := build(t, v)
			var cm corev1.ConfigMap
			convert(t, find(t, objs, "ConfigMap", configMapName), &cm)
			for k := range cm.Data {
				if !slices.Contains(known, k) {
					t.Errorf("ConfigMap %s: %s is not a variable the remediator reads (known: %s)", configMapName, k, strings.Join(known, " "))
				}
			}
			defaults := map[string]string{"workflow": "x", "node-id": "", "namespace": v.namespace, "dry-run": "false", "reason": "manual"}
			for _, p := range pods(t, objs) {
				for _, c := range p.containers {
					env, problems := podEnv(cm, c, defaults, v.namespace)
					for _, problem := range problems {
						t.Errorf("%s: %s", p.owner, problem)
					}
					for name := range env {
						if !slices.Contains(known, name) {
							t.Errorf("%s: %s is not a variable the remediator reads", p.owner, name)
						}
					}
					mode := ""
					if len(c.Args) > 0 && slices.Contains([]string{config.ModeSweep, config.ModeWatch, config.ModePods}, c.Args[0]) {
						mode = c.Args[0]
					}
					if err := loadConfig(t, known, env, mode); err != nil {
						t.Errorf("%s: the remediator rejects its environment: %v", p.owner, err)
					}
				}
			}
		})
	}
}

// podEnv is the environment container c gets: cm's data through envFrom, then
// env, with {{inputs.parameters.NAME}} replaced by params[NAME], the
// downward-API namespace by ns and a key of cm by its value. problems lists
// what it cannot resolve.
func podEnv(cm corev1.ConfigMap, c corev1.Container, params map[string]string, ns string) (env map[string]string, problems []string) {
	env = map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil || from.ConfigMapRef.Name != cm.Name {
			problems = append(problems, fmt.Sprintf("envFrom %+v, want only ConfigMap %s", from, cm.Name))
			continue
		}
		for k, val := range cm.Data {
			env[from.Prefix+k] = val
		}
	}
	var pairs []string
	for name, val := range params {
		pairs = append(pairs, "{{inputs.parameters."+name+"}}", val)
	}
	replacer := strings.NewReplacer(pairs...)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env[e.Name] = ns
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == cm.Name:
			val, ok := cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
			if !ok {
				problems = append(problems, fmt.Sprintf("env %s: ConfigMap %s has no key %s", e.Name, cm.Name, e.ValueFrom.ConfigMapKeyRef.Key))
			}
			env[e.Name] = val
		case e.ValueFrom != nil:
			problems = append(problems, fmt.Sprintf("env %s: unexpected valueFrom %+v", e.Name, e.ValueFrom))
		default:
			env[e.Name] = replacer.Replace(e.Value)
			if strings.Contains(env[e.Name], "{{") {
				problems = append(problems, fmt.Sprintf("env %s: %q is left unresolved", e.Name, env[e.Name]))
			}
		}
	}
	return env, problems
}

// loadConfig runs config.Load with exactly env set among the known variables.
func loadConfig(t *testing.T, known []string, env map[string]string, mode string) error {
	t.Helper()
	for _, k := range known {
		t.Setenv(k, "") // restored when the test ends
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	for k, val := range env {
		t.Setenv(k, val)
	}
	_, err := config.Load(mode)
	return err
}

// TestLoadConfigCanFail: a bad value in the environment is reported.
func TestLoadConfigCanFail(t *testing.T) {
	known := knownVariables(t)
	env := map[string]string{"REMEDIATOR_NAMESPACE": "argo", "REMEDIATOR_WORKFLOW": "x", "REMEDIATOR_DEADLINE": "ten minutes"}
	if err := loadConfig(t, known, env, ""); err == nil || !strings.Contains(err.Error(), "REMEDIATOR_DEADLINE") {
		t.Errorf("a DEADLINE that is no duration gave %v, want an error naming it", err)
	}
}
