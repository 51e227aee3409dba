{{/* Chart name. */}}
{{- define "cloudquota-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release and chart name, at most 63 characters. A StatefulSet's
pod names add "-N", and its Service name is part of the pods' DNS names.
*/}}
{{- define "cloudquota-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cloudquota-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "cloudquota-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cloudquota-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cloudquota-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cloudquota-exporter.labels" -}}
helm.sh/chart: {{ include "cloudquota-exporter.chart" . }}
{{ include "cloudquota-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cloudquota-exporter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "cloudquota-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cloudquota-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cloudquota-exporter.secretName" -}}
{{- default (include "cloudquota-exporter.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "cloudquota-exporter.image" -}}
{{- $repo := .Values.image.repository }}
{{- with .Values.image.registry }}{{ $repo = printf "%s/%s" . $repo }}{{ end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Is this the sharded layout: a StatefulSet? */}}
{{- define "cloudquota-exporter.sharded" -}}
{{- if eq .Values.kind "StatefulSet" }}true{{ end }}
{{- end }}

{{/* host:port of the Service (the pods behind it, for a StatefulSet). */}}
{{- define "cloudquota-exporter.serviceHost" -}}
{{- printf "%s.%s.svc:%v" (include "cloudquota-exporter.fullname" .) (include "cloudquota-exporter.namespace" .) .Values.service.port }}
{{- end }}
