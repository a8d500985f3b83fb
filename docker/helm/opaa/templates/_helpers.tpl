{{/* Names and labels. */}}
{{- define "opaa.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "opaa.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "opaa.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "opaa.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: include "opaa.selectorLabels" (list . "web") */}}
{{- define "opaa.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "opaa.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "opaa.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The environment every OPAA container gets: values, and secrets by reference. */}}
{{- define "opaa.env" -}}
- name: DJANGO_SETTINGS_MODULE
  value: opaa.settings.production
- name: OPAA_EMBEDDED_SERVICES
  value: "false"
- name: SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ required "secret.existingSecret is required" .Values.secret.existingSecret }}
      key: {{ .Values.secret.secretKeyKey }}
- name: METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secret.existingSecret }}
      key: {{ .Values.secret.metricsTokenKey }}
      optional: true
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required" .Values.database.existingSecret }}
      key: {{ .Values.database.urlKey }}
- name: DATABASE_CONN_MAX_AGE
  value: {{ .Values.database.connMaxAge | quote }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "redis.existingSecret is required" .Values.redis.existingSecret }}
      key: {{ .Values.redis.urlKey }}
- name: S3_BUCKET
  value: {{ required "s3.bucket is required: pods share no disk" .Values.s3.bucket | quote }}
- name: S3_ENDPOINT_URL
  value: {{ .Values.s3.endpointUrl | quote }}
- name: S3_REGION
  value: {{ .Values.s3.region | quote }}
- name: S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ required "s3.existingSecret is required" .Values.s3.existingSecret }}
      key: {{ .Values.s3.accessKeyIdKey }}
- name: S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.secretAccessKeyKey }}
- name: ALLOWED_HOSTS
  {{- /* "localhost" lets an operator curl a pod through kubectl port-forward. */}}
  value: {{ join "," (append .Values.allowedHosts "localhost") | quote }}
- name: CSRF_TRUSTED_ORIGINS
  value: {{ join "," .Values.csrfTrustedOrigins | quote }}
- name: ORGANIZATION_DOMAIN_SUFFIX
  value: {{ .Values.organizationDomainSuffix | quote }}
- name: LLM_API_BASE
  value: {{ .Values.llm.apiBase | quote }}
- name: LLM_MODEL
  value: {{ .Values.llm.model | quote }}
- name: LLM_TIMEOUT_S
  value: {{ .Values.llm.timeoutSeconds | quote }}
{{- if .Values.llm.existingSecret }}
- name: LLM_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.llm.existingSecret }}
      key: {{ .Values.llm.apiKeyKey }}
{{- end }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: PROMETHEUS_MULTIPROC_DIR
  value: /tmp/opaa-metrics
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* The schema owner's URL: only for the migration Job, web and worker (not beat). */}}
{{- define "opaa.ownerEnv" -}}
{{- if .Values.database.ownerUrlKey }}
- name: DATABASE_OWNER_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.ownerExistingSecret | default .Values.database.existingSecret }}
      key: {{ .Values.database.ownerUrlKey }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every OPAA pod. */}}
{{- define "opaa.podSpec" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The root filesystem is read-only: /tmp (metrics files, beat schedule) is not. */}}
{{- define "opaa.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{- define "opaa.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}
