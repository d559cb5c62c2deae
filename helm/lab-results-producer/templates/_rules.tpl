{{/*
The alert rules, as the `groups:` of a Prometheus rules file. The
PrometheusRule renders them; tests/deploy/test_rules.py renders the same
template and runs `promtool check rules` and `promtool test rules`
(deploy/prometheus/*.test.yaml) on it.

Counters that count rare events (restore failures, window gaps, aborted
transactions) may first appear already above zero, e.g. in a pod that has
just restarted; increase() sees nothing there, so each such rule also fires
for a series that is above the threshold now and did not exist one window ago.
*/}}
{{- define "lab-results-producer.rules" -}}
{{- $r := .Values.metrics.prometheusRule -}}
{{- $sel := include "lab-results-producer.ruleSelector" . -}}
{{- $extra := $r.alertLabels -}}
groups:
  - name: lab-results-producer
    rules:
      - alert: LabResultsProducerAbsent
        expr: absent(lab_results_build_info{ {{- $sel -}} })
        for: {{ $r.absentFor }}
        labels:
          severity: critical
          {{- with $extra }}{{ toYaml . | nindent 10 }}{{ end }}
        annotations:
          summary: No metrics from lab-results-producer for {{ $r.absentFor }}
          description: >-
            Prometheus has no lab_results_build_info series matching
            {{ $sel }}: the producer is not running or is not scraped
            (check the pod, the Service and the ServiceMonitor).
      - alert: LabResultsNoSuccessfulPoll
        expr: >-
          time() - max by (namespace, job) (
            max_over_time(lab_results_last_success_timestamp_seconds{ {{- $sel -}} }[{{ $r.noSuccessfulPollFor }}])
          ) > {{ include "lab-results-producer.durationSeconds" $r.noSuccessfulPollFor }}
        for: 1m
        labels:
          severity: critical
          {{- with $extra }}{{ toYaml . | nindent 10 }}{{ end }}
        annotations:
          summary: No successful Skillable poll for {{ $r.noSuccessfulPollFor }}
          description: >-
            The last successful poll of {{`{{ $labels.namespace }}/{{ $labels.job }}`}} started
            {{`{{ $value | humanizeDuration }}`}} ago. No change events are published
            meanwhile; see lab_results_polls_total by outcome and the producer's log.
      - alert: LabResultsPollFailing
        expr: >-
          sum by (namespace, job) (rate(lab_results_polls_total{ {{- $sel -}} ,outcome!="success"}[{{ $r.pollFailureWindow }}]))
          /
          sum by (namespace, job) (rate(lab_results_polls_total{ {{- $sel -}} }[{{ $r.pollFailureWindow }}]))
          > {{ $r.pollFailureRatio }}
        for: {{ $r.pollFailureFor }}
        labels:
          severity: warning
          {{- with $extra }}{{ toYaml . | nindent 10 }}{{ end }}
        annotations:
          summary: More than {{ round (mulf $r.pollFailureRatio 100) 1 }}% of polls fail
          description: >-
            {{`{{ $value | humanizePercentage }}`}} of the polls of
            {{`{{ $labels.namespace }}/{{ $labels.job }}`}} failed over the last
            {{ $r.pollFailureWindow }} (outcomes api_error, bad_response,
            publish_error, deadline).
      - alert: LabResultsApiErrors
        expr: >-
          sum by (namespace, job, command, status) (rate(lab_results_api_request_duration_seconds_count{ {{- $sel -}} ,status!~"2.."}[{{ $r.apiErrorWindow }}]))
          / ignoring (command, status) group_left
          sum by (namespace, job) (rate(lab_results_api_request_duration_seconds_count{ {{- $sel -}} }[{{ $r.apiErrorWindow }}]))
          > {{ $r.apiErrorRatio }}
        for: {{ $r.apiErrorFor }}
        labels:
          severity: warning
          {{- with $extra }}{{ toYaml . | nindent 10 }}{{ end }}
        annotations:
          summary: Skillable API answers {{`{{ $labels.command }}`}} with status {{`{{ $labels.status }}`}}
          description: >-
            {{`{{ $value | humanizePercentage }}`}} of the Skillable API requests of
            {{`{{ $labels.namespace }}/{{ $labels.job }}`}} were {{`{{ $labels.command }}`}}
            requests answered with status {{`{{ $labels.status }}`}} over the last
            {{ $r.apiErrorWindow }} ("error": no answer at all). 401 and 403
            point to the API key, 429 and 5xx to the API.
      - alert: LabResultsStateRestoreFailing
        expr: >-
          increase(lab_results_restore_failures_total{ {{- $sel -}} }[{{ $r.eventWindow }}]) > 0
          or
          (lab_results_restore_failures_total{ {{- $sel -}} } > 0
            unless lab_results_restore_failures_total{ {{- $sel -}} } offset {{ $r.eventWindow }})
        labels:
          severity: critical
          {{- with $extra }}{{ toYaml . | nindent 10 }}{{ end }}
        annotations:
          summary: Restoring the state from the state topic fails
          description: >-
            {{`{{ $labels.namespace }}/{{ $labels.pod }}`}} failed to restore its state
            from the state topic within the last {{ $r.eventWindow }}. Without the
            state the producer cannot diff results and publishes nothing.
      - alert: LabResultsNotReady
        expr: max by (namespace, job) (lab_results_ready{ {{- $sel -}} }) == 0
        for: {{ $r.notReadyFor }}
        labels:
          severity: warning
          {{- with $extra }}{{ toYaml . | nindent 10 }}{{ end }}
        annotations:
          summary: lab-results-producer not ready for {{ $r.notReadyFor }}
          description: >-
            {{`{{ $labels.namespace }}/{{ $labels.job }}`}} has not been ready for
            {{ $r.notReadyFor }}: the state restore has not finished.
            lab_results_restore_duration_seconds and the log tell why.
      - alert: LabResultsWindowGap
        expr: >-
          increase(lab_results_window_gaps_total{ {{- $sel -}} }[{{ $r.eventWindow }}]) > 0
          or
          (lab_results_window_gaps_total{ {{- $sel -}} } > 0
            unless lab_results_window_gaps_total{ {{- $sel -}} } offset {{ $r.eventWindow }})
        labels:
          {{- /* Without backfill the changes in the gap are lost for sure. */}}
          severity: {{ ternary "warning" "critical" .Values.polling.backfill }}
          {{- with $extra }}{{ toYaml . | nindent 10 }}{{ end }}
        annotations:
          summary: Changes may have been missed (LatestResults window gap)
          description: >-
            {{`{{ $labels.namespace }}/{{ $labels.pod }}`}} polled more than the
            7-day LatestResults window after its last successful poll.
            {{- if .Values.polling.backfill }}
            It read the gap with the Results command (lab_results_backfill_requests_total),
            which only returns lab instances that started or ended in it: check
            the change events of that period.
            {{- else }}
            Backfill is off: results that changed in the gap and not since were
            never published.
            {{- end }}
      - alert: LabResultsTransactionsAborting
        expr: >-
          increase(lab_results_transactions_total{ {{- $sel -}} ,outcome="aborted"}[{{ $r.transactionAbortWindow }}]) > {{ $r.transactionAbortsMax }}
          or
          (lab_results_transactions_total{ {{- $sel -}} ,outcome="aborted"} > {{ $r.transactionAbortsMax }}
            unless lab_results_transactions_total{ {{- $sel -}} ,outcome="aborted"} offset {{ $r.transactionAbortWindow }})
        labels:
          severity: warning
          {{- with $extra }}{{ toYaml . | nindent 10 }}{{ end }}
        annotations:
          summary: Kafka transactions abort
          description: >-
            {{`{{ $labels.namespace }}/{{ $labels.pod }}`}} aborted more than
            {{ $r.transactionAbortsMax }} Kafka transactions within
            {{ $r.transactionAbortWindow }}. Aborted polls publish nothing and are
            retried; check the broker, the transactional id (fenced by a second
            producer?) and transaction.timeout.ms.
{{- end }}

{{/*
A Prometheus duration (90s, 15m, 2h, 1d, 1h30m) in seconds.
*/}}
{{- define "lab-results-producer.durationSeconds" -}}
{{- $total := 0 -}}
{{- range (regexFindAll "[0-9]+(ms|s|m|h|d|w|y)" . -1) -}}
{{- $n := regexFind "^[0-9]+" . | int -}}
{{- $unit := regexFind "[a-z]+$" . -}}
{{- $factor := get (dict "ms" 0 "s" 1 "m" 60 "h" 3600 "d" 86400 "w" 604800 "y" 31536000) $unit -}}
{{- $total = add $total (mul $n $factor) -}}
{{- end -}}
{{- $total -}}
{{- end }}
