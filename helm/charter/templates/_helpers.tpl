{{/* Names and labels. */}}
{{- define "charter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "charter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels never change across upgrades: a Deployment's selector is immutable. */}}
{{- define "charter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "charter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "charter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "charter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: charter
{{- end -}}

{{- define "charter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "charter.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "charter.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the service's credentials, and the one the migration job reads. */}}
{{- define "charter.secretName" -}}
{{- default (include "charter.fullname" .) .Values.existingSecret.name -}}
{{- end -}}

{{- define "charter.migrationSecretName" -}}
{{- default (printf "%s-migrate" (include "charter.fullname" .)) .Values.existingSecret.name -}}
{{- end -}}

{{/* Whether the chart knows the database: an existing Secret, or database.host for a Secret of its own. Without
either, the chart still renders (so `helm lint` of the defaults passes) and NOTES.txt says what is missing. */}}
{{- define "charter.databaseConfigured" -}}
{{- if or .Values.existingSecret.name .Values.database.host -}}true{{- end -}}
{{- end -}}

{{/* A postgres:// URL built from the database values (only when the chart makes the Secret). */}}
{{- define "charter.databaseURL" -}}
{{- $db := .root.Values.database -}}
{{- $query := list (printf "sslmode=%s" $db.sslmode) -}}
{{- if $db.ca.secretName -}}
{{- $query = append $query (printf "sslrootcert=/etc/charter/database-ca/%s" $db.ca.key) -}}
{{- end -}}
{{- $host := .host | default $db.host -}}
{{- $port := .port | default $db.port -}}
{{- printf "postgres://%s:%s@%s:%d/%s?%s" (urlquery .user) (urlquery .password) $host (int $port) (urlquery $db.name) (join "&" $query) -}}
{{- end -}}

{{/* Every rule values.schema.json cannot express; rendered by the Deployment so that any render checks it. */}}
{{- define "charter.validate" -}}
{{- $v := .Values -}}
{{- $drain := int $v.config.shutdown.drainSeconds -}}
{{- $grace := int $v.config.shutdown.graceSeconds -}}
{{- $preStop := int $v.preStopSleepSeconds -}}
{{- if le (int $v.terminationGracePeriodSeconds) (add $preStop $drain $grace) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be greater than preStopSleepSeconds (%d) + config.shutdown.drainSeconds (%d) + config.shutdown.graceSeconds (%d), or the kubelet kills pods while SSE streams drain and requests finish" (int $v.terminationGracePeriodSeconds) $preStop $drain $grace) -}}
{{- end -}}
{{- if $v.existingSecret.name -}}
{{- if or $v.database.password $v.database.migrationPassword $v.kek $v.bootstrap.apiKey $v.smtp.password -}}
{{- fail "existingSecret.name is set: leave database.password, database.migrationPassword, kek, bootstrap.apiKey and smtp.password empty (the chart makes no Secret); put them in the existing Secret" -}}
{{- end -}}
{{- else if $v.database.host -}}
{{- if not $v.database.password -}}
{{- fail "database.password is required with database.host (or use existingSecret.name)" -}}
{{- end -}}
{{- if and $v.migrations.enabled (not $v.database.migrationPassword) -}}
{{- fail "database.migrationPassword (the schema owner's) is required for the migration job with database.host (or use existingSecret.name)" -}}
{{- end -}}
{{- end -}}
{{- if and $v.smtp.host (not $v.smtp.from) -}}
{{- fail "smtp.from is required with smtp.host (an address such as approvals@example.com)" -}}
{{- end -}}
{{- if and $v.smtp.password (not $v.smtp.username) -}}
{{- fail "smtp.username is required with smtp.password" -}}
{{- end -}}
{{- if and $v.smtp.host $v.smtp.username (not $v.existingSecret.name) (not $v.smtp.password) -}}
{{- fail "smtp.password is required with smtp.username (or use existingSecret.name with keys.smtpPassword)" -}}
{{- end -}}
{{- if and $v.autoscaling.enabled (lt (int $v.autoscaling.maxReplicas) (int $v.autoscaling.minReplicas)) -}}
{{- fail "autoscaling.maxReplicas must be at least autoscaling.minReplicas" -}}
{{- end -}}
{{- end -}}

{{/* Pod-level settings shared by the Deployment, the migration Job and the test pod. */}}
{{- define "charter.podSecurity" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Environment every charter container gets: the service's database URL and key-encryption keys. */}}
{{- define "charter.secretEnv" -}}
- name: CHARTER_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "charter.secretName" . }}
      key: {{ .Values.existingSecret.keys.databaseURL }}
- name: CHARTER_DATABASE_LISTEN_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "charter.secretName" . }}
      key: {{ .Values.existingSecret.keys.listenDatabaseURL }}
      optional: true
- name: CHARTER_KEK
  valueFrom:
    secretKeyRef:
      name: {{ include "charter.secretName" . }}
      key: {{ .Values.existingSecret.keys.kek }}
      optional: true
{{- end -}}

{{- define "charter.caVolume" -}}
- name: database-ca
  secret:
    secretName: {{ .Values.database.ca.secretName }}
    defaultMode: 0444
    items:
      - key: {{ .Values.database.ca.key }}
        path: {{ .Values.database.ca.key }}
{{- end -}}

{{- define "charter.smtpCAVolume" -}}
- name: smtp-ca
  secret:
    secretName: {{ .Values.smtp.ca.secretName }}
    defaultMode: 0444
    items:
      - key: {{ .Values.smtp.ca.key }}
        path: {{ .Values.smtp.ca.key }}
{{- end -}}

{{- define "charter.smtpCAMount" -}}
- name: smtp-ca
  mountPath: /etc/charter/smtp-ca
  readOnly: true
{{- end -}}

{{- define "charter.caMount" -}}
- name: database-ca
  mountPath: /etc/charter/database-ca
  readOnly: true
{{- end -}}
