{{/*
Names and labels.
*/}}
{{- define "lab-results-producer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lab-results-producer.fullname" -}}
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

{{- define "lab-results-producer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lab-results-producer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lab-results-producer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lab-results-producer.labels" -}}
helm.sh/chart: {{ include "lab-results-producer.chart" . }}
{{ include "lab-results-producer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: producer
app.kubernetes.io/part-of: lab-results
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lab-results-producer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lab-results-producer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lab-results-producer.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The Secret holding the secret settings: the operator's or the chart's own.
*/}}
{{- define "lab-results-producer.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-secrets" (include "lab-results-producer.fullname" .)) }}
{{- end }}

{{/* SASL mechanisms that authenticate with a password. */}}
{{- define "lab-results-producer.saslPasswordNeeded" -}}
{{- if has (.Values.kafka.saslMechanism | upper) (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512") }}true{{ end }}
{{- end }}

{{/*
A number as the producer reads it: integers without an exponent
(604800000, not 6.048e+08), fractions as they are.
*/}}
{{- define "lab-results-producer.number" -}}
{{- if eq (float64 .) (floor .) }}{{ int64 . }}{{ else }}{{ float64 . }}{{ end }}
{{- end }}

{{/*
The producer's settings as container environment variables, one per setting
of producer/config.py.
*/}}
{{- define "lab-results-producer.env" -}}
{{- $secret := include "lab-results-producer.secretName" . -}}
{{- $v := .Values -}}
- name: SKILLABLE_API_URL
  value: {{ required "skillable.apiUrl is required" $v.skillable.apiUrl | quote }}
- name: SKILLABLE_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $v.secretKeys.apiKey }}
- name: API_CONNECT_TIMEOUT_SECONDS
  value: {{ include "lab-results-producer.number" $v.skillable.connectTimeoutSeconds | quote }}
- name: API_READ_TIMEOUT_SECONDS
  value: {{ include "lab-results-producer.number" $v.skillable.readTimeoutSeconds | quote }}
- name: API_MAX_RETRIES
  value: {{ $v.skillable.maxRetries | int64 | quote }}
- name: API_RETRY_MAX_SECONDS
  value: {{ include "lab-results-producer.number" $v.skillable.retryMaxSeconds | quote }}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required" $v.kafka.bootstrapServers | quote }}
- name: TRANSACTIONAL_ID
  value: {{ $v.kafka.transactionalId | quote }}
- name: TRANSACTION_TIMEOUT_MS
  value: {{ $v.kafka.transactionTimeoutMs | int64 | quote }}
{{- with $v.kafka.securityProtocol }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ . | quote }}
{{- end }}
{{- with $v.kafka.saslMechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ . | quote }}
{{- end }}
{{- with $v.kafka.saslUsername }}
- name: KAFKA_SASL_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- if or (include "lab-results-producer.saslPasswordNeeded" .) (and (not $v.existingSecret) $v.kafka.saslPassword) }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $v.secretKeys.kafkaSaslPassword }}
{{- end }}
{{- range $key, $value := $v.kafka.config }}
- name: {{ printf "KAFKA_%s" ($key | replace "." "_" | upper) }}
  {{- if kindIs "float64" $value }}
  value: {{ include "lab-results-producer.number" $value | quote }}
  {{- else }}
  value: {{ $value | toString | quote }}
  {{- end }}
{{- end }}
- name: EVENTS_TOPIC
  value: {{ $v.topics.events | quote }}
- name: STATE_TOPIC
  value: {{ $v.topics.state | quote }}
- name: CREATE_TOPICS
  value: {{ $v.topics.create | toString | quote }}
- name: EVENTS_TOPIC_PARTITIONS
  value: {{ $v.topics.eventsPartitions | int64 | quote }}
- name: EVENTS_TOPIC_RETENTION_MS
  value: {{ $v.topics.eventsRetentionMs | int64 | quote }}
- name: STATE_TOPIC_PARTITIONS
  value: {{ $v.topics.statePartitions | int64 | quote }}
- name: TOPIC_REPLICATION_FACTOR
  value: {{ $v.topics.replicationFactor | int64 | quote }}
{{- with $v.schemaRegistry.url }}
- name: SCHEMA_REGISTRY_URL
  value: {{ . | quote }}
{{- end }}
{{- if or (and $v.existingSecret $v.schemaRegistry.url) (and (not $v.existingSecret) $v.schemaRegistry.basicAuthUserInfo) }}
- name: SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $v.secretKeys.schemaRegistryBasicAuthUserInfo }}
      {{- if $v.existingSecret }}
      # A registry without authentication needs no such key.
      optional: true
      {{- end }}
{{- end }}
- name: POLL_INTERVAL_SECONDS
  value: {{ include "lab-results-producer.number" $v.polling.intervalSeconds | quote }}
- name: WINDOW_OVERLAP_SECONDS
  value: {{ $v.polling.windowOverlapSeconds | int64 | quote }}
- name: POLL_DEADLINE_SECONDS
  value: {{ include "lab-results-producer.number" $v.polling.deadlineSeconds | quote }}
{{- with $v.polling.excludeFields }}
- name: EXCLUDE_FIELDS
  value: {{ join "," . | quote }}
{{- end }}
- name: BACKFILL
  value: {{ $v.polling.backfill | toString | quote }}
- name: STATE_RETENTION_DAYS
  value: {{ include "lab-results-producer.number" $v.state.retentionDays | quote }}
- name: STATE_SWEEP_INTERVAL_SECONDS
  value: {{ include "lab-results-producer.number" $v.state.sweepIntervalSeconds | quote }}
- name: METRICS_HOST
  value: {{ $v.metrics.host | quote }}
- name: METRICS_PORT
  value: {{ $v.metrics.port | int64 | quote }}
- name: SHUTDOWN_GRACE_SECONDS
  value: {{ include "lab-results-producer.number" $v.shutdownGraceSeconds | quote }}
- name: LOG_LEVEL
  value: {{ $v.logging.level | quote }}
- name: LOG_FORMAT
  value: {{ $v.logging.format | quote }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Checks that JSON schema cannot express.
*/}}
{{- define "lab-results-producer.validate" -}}
{{- if ge (float64 .Values.shutdownGraceSeconds) (float64 .Values.terminationGracePeriodSeconds) }}
{{- fail (printf "shutdownGraceSeconds (%v) must be below terminationGracePeriodSeconds (%v): the kubelet kills the pod at the end of the grace period" .Values.shutdownGraceSeconds .Values.terminationGracePeriodSeconds) }}
{{- end }}
{{- if not .Values.existingSecret }}
{{- if not .Values.skillable.apiKey }}
{{- fail "skillable.apiKey is required when existingSecret is not set (give one or the other)" }}
{{- end }}
{{- if and (include "lab-results-producer.saslPasswordNeeded" .) (not .Values.kafka.saslPassword) }}
{{- fail (printf "kafka.saslPassword is required for kafka.saslMechanism %s when existingSecret is not set" .Values.kafka.saslMechanism) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The series selector of this producer in the alert rules.
*/}}
{{- define "lab-results-producer.ruleSelector" -}}
{{- .Values.metrics.prometheusRule.selector | default (printf "job=%q,namespace=%q" (include "lab-results-producer.fullname" .) .Release.Namespace) }}
{{- end }}
