{{/* Labels every object of the chart carries. */}}
{{- define "cxloop.labels" -}}
app.kubernetes.io/name: cxloop
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The manager's ServiceAccount as an RBAC subject. */}}
{{- define "cxloop.subject" -}}
- kind: ServiceAccount
  name: cxloop-manager
  namespace: {{ .Release.Namespace }}
{{- end -}}
