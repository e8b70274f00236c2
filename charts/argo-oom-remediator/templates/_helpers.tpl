{{/*
The chart renders the repository's own manifests (linked under files/: the
kustomize base, eventsources/, sensors/, the eventbus, nudge, watch and resubmit
components)
rather than copies: each template loads a file, changes what the values
choose, and emits the objects. So the chart and the kustomize overlays share
one source, and the Sensors' own Go templates ({{ .Input... }}) are never
read as Helm templates.
*/}}

{{/* aor.load (list $ "path"): the objects of a (multi-document) file, as JSON. */}}
{{- define "aor.load" -}}
{{- $root := index . 0 -}}
{{- $path := index . 1 -}}
{{- $out := list -}}
{{- range regexSplit "(?m)^---[ \t]*$" ($root.Files.Get $path) -1 -}}
{{- $o := fromYaml . -}}
{{- if hasKey $o "Error" -}}
{{- fail (printf "chart file %s: %s" $path $o.Error) -}}
{{- end -}}
{{- if $o.kind -}}
{{- $out = append $out $o -}}
{{- end -}}
{{- end -}}
{{- if not $out -}}
{{- fail (printf "chart file %s holds no object (a symbolic link under files/ not followed?)" $path) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* aor.loadBase: like aor.load, plus the label the kustomize base adds. */}}
{{- define "aor.loadBase" -}}
{{- $out := list -}}
{{- range include "aor.load" . | fromJsonArray -}}
{{- $_ := set .metadata "labels" (merge (dict "app.kubernetes.io/part-of" "argo-oom-remediator") (.metadata.labels | default dict)) -}}
{{- $out = append $out . -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* aor.emit (list $ object): sets the namespace (namespaced kinds) and the
Helm labels, then prints the object as a YAML document. */}}
{{- define "aor.emit" -}}
{{- $root := index . 0 -}}
{{- $o := index . 1 -}}
{{- $meta := $o.metadata -}}
{{- if and (not (has $o.kind (list "ClusterRole" "ClusterRoleBinding" "ClusterWorkflowTemplate" "Namespace"))) (not $meta.namespace) -}}
{{- $_ := set $meta "namespace" $root.Release.Namespace -}}
{{- end -}}
{{- $labels := $meta.labels | default dict -}}
{{- $_ := set $labels "app.kubernetes.io/managed-by" $root.Release.Service -}}
{{- $_ := set $labels "app.kubernetes.io/instance" $root.Release.Name -}}
{{- $_ := set $labels "helm.sh/chart" (printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_") -}}
{{- $_ := set $meta "labels" $labels }}
---
{{ toYaml $o }}
{{- end -}}

{{/* aor.image: repository@digest, or repository:tag (tag defaults to appVersion). */}}
{{- define "aor.image" -}}
{{- with .Values.image.digest -}}
{{- printf "%s@%s" $.Values.image.repository . -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* aor.namespaces: the namespaces the install covers, as JSON: the release
namespace, plus scope.namespaces in mode namespaces; [] in mode cluster. */}}
{{- define "aor.namespaces" -}}
{{- if eq .Values.scope.mode "cluster" -}}
{{- list | toJson -}}
{{- else if eq .Values.scope.mode "namespaces" -}}
{{- prepend .Values.scope.namespaces .Release.Namespace | uniq | toJson -}}
{{- else -}}
{{- list .Release.Namespace | toJson -}}
{{- end -}}
{{- end -}}

{{/* aor.eventName (list $ namespace): the workflow-pods EventSource's event
for a namespace: "workflow-pods" except in mode namespaces. */}}
{{- define "aor.eventName" -}}
{{- $root := index . 0 -}}
{{- if eq $root.Values.scope.mode "namespaces" -}}
{{- printf "workflow-pods-%s" (index . 1) -}}
{{- else -}}
workflow-pods
{{- end -}}
{{- end -}}

{{/* aor.podsName (list $ namespace): the Deployment and Service of the
workflow pod watcher of a namespace: oom-remediator-pods, with the namespace
appended for the namespaces other than the release's (mode namespaces), cut
to a DNS label (63 characters). */}}
{{- define "aor.podsName" -}}
{{- $root := index . 0 -}}
{{- $ns := index . 1 -}}
{{- if eq $ns $root.Release.Namespace -}}
oom-remediator-pods
{{- else -}}
{{- printf "oom-remediator-pods-%s" $ns | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* aor.withResources (list container resources): overrides when set. */}}
{{- define "aor.withResources" -}}
{{- $c := index . 0 -}}
{{- with index . 1 -}}
{{- $_ := set $c "resources" . -}}
{{- end -}}
{{- end -}}

{{/* aor.eventBus (object): names a non-default EventBus on an EventSource or Sensor. */}}
{{- define "aor.eventBus" -}}
{{- $o := index . 1 -}}
{{- $name := (index . 0).Values.eventBus.name -}}
{{- if ne $name "default" -}}
{{- $_ := set $o.spec "eventBusName" $name -}}
{{- end -}}
{{- end -}}
