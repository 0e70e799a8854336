# Monitoring an operator can act on: the code's alert log lines become one log-based metric with
# an `alert` label, and alert policies watch that metric per label value, the dead-letter
# subscriptions, the functions' 5xx rate and the age of queued push jobs. Notifications go to
# the channels of var.alert_notification_channels; one dashboard shows the same signals.
#
# The code writes `"alert": "<value>"` in the `extra` of an ERROR line (one JSON field,
# jsonPayload.alert in Cloud Logging). A new alert value needs only an entry in
# local.alert_policies (tests/terraform/test_monitoring.py requires one for every value logged).

locals {
  # Cloud Run service names of the functions (2nd gen functions run as Cloud Run services).
  function_services = sort([for fn in google_cloudfunctions2_function.function : fn.name])

  alert_metric = "uplus/alerts"

  # Policy per kind of failure: the alert values it watches, what to do.
  alert_policies = {
    watch_repair = {
      display_name = "Watch start or repair failing"
      alerts       = ["watch_start_failed", "watch_repair_failed"]
      runbook      = "A watch could not be started at link time, or its renewal or repair failed three times in a row (maintenance_worker retries with backoff up to 6 h; GET /v1/google shows it failed). Check the reason and source fields and the Google API quota; a relink_required account is expected to fail."
    }
    calendar_list = {
      display_name = "Calendar list re-read failing"
      alerts       = ["calendar_list_failed"]
      runbook      = "Maintenance could not read a user's calendar list; calendars added or removed since are not started or stopped. Check the reason field and the Calendar API quota."
    }
    calendar_list = {
      display_name = "Calendar list re-read failing"
      alerts       = ["calendar_list_failed"]
      runbook      = "Maintenance could not read a user's calendar list; calendars added or removed since are not started or stopped. Check the reason field and the Calendar API quota."
    }
    reconcile = {
      display_name = "Reconcile sync failing"
      alerts       = ["reconcile_failed"]
      runbook      = "The periodic reconcile of a silent or dirty source failed; missed Google pushes are not being caught up. Check the source field and Google API errors."
    }
    fcm_third_party_auth = {
      display_name = "FCM third-party credentials rejected (APNs)"
      alerts       = ["fcm_third_party_auth"]
      runbook      = "FCM answered THIRD_PARTY_AUTH_ERROR: the APNs key or certificate in the Firebase console expired or was revoked; iOS devices get no pushes until it is replaced."
    }
    push_rejected = {
      display_name = "Push jobs rejected"
      alerts       = ["fcm_rejected", "feed_item_invalid"]
      runbook      = "FCM rejected a message as invalid, or a feed item could not be read: a bug in the payload or stored data. Check the fcm_error field and the latest deploy."
    }
  }

  # A dead letter waits in <topic>-dead-letter (pubsub.tf).
  dead_letter_subscriptions = sort([for sub in google_pubsub_subscription.dead_letter : sub.name])

  # Push-jobs older than this are late: the longest redelivery backoff is 600 s.
  push_job_age_seconds = 900
  # Share of a function's requests answered 5xx, over 5 minutes.
  function_5xx_ratio = 0.05

  notification_channels = [for channel in google_monitoring_notification_channel.channel : channel.id]

  # Monitoring filters (https://cloud.google.com/monitoring/api/v3/filters) of each signal.
  filters = {
    alerts = join(" AND ", [
      "resource.type=\"cloud_run_revision\"",
      "metric.type=\"logging.googleapis.com/user/${google_logging_metric.alerts.name}\"",
    ])
    dead_letters = join(" AND ", [
      "resource.type=\"pubsub_subscription\"",
      "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\"",
      "resource.label.subscription_id=one_of(${join(", ", [for name in local.dead_letter_subscriptions : "\"${name}\""])})",
    ])
    requests = join(" AND ", [
      "resource.type=\"cloud_run_revision\"",
      "metric.type=\"run.googleapis.com/request_count\"",
      "resource.label.service_name=one_of(${join(", ", [for name in local.function_services : "\"${name}\""])})",
    ])
    # Age of the oldest message of the topic not yet acknowledged by its (Eventarc) subscription.
    push_job_age = join(" AND ", [
      "resource.type=\"pubsub_topic\"",
      "metric.type=\"pubsub.googleapis.com/topic/oldest_unacked_message_age_by_region\"",
      "resource.label.topic_id=\"${google_pubsub_topic.topic["push-jobs"].name}\"",
    ])
  }
  errors_5xx = "${local.filters.requests} AND metric.label.response_code_class=\"5xx\""

  platform_policies = {
    dead_letters = {
      display_name = "Dead-lettered messages waiting"
      condition    = "A dead-letter subscription has undelivered messages"
      filter       = local.filters.dead_letters
      denominator  = null
      threshold    = 0
      aligner      = "ALIGN_MAX"
      reducer      = "REDUCE_MAX"
      group_by     = ["resource.label.subscription_id"]
      runbook      = "A message failed every delivery and waits in a <topic>-dead-letter subscription. Pull it (gcloud pubsub subscriptions pull), find its cause in the consuming function's logs, fix, then republish it to the topic or acknowledge it."
    }
    function_5xx = {
      display_name = "Function 5xx rate"
      condition    = "More than ${local.function_5xx_ratio * 100}% of a function's requests answer 5xx"
      filter       = local.errors_5xx
      denominator  = local.filters.requests
      threshold    = local.function_5xx_ratio
      aligner      = "ALIGN_RATE"
      reducer      = "REDUCE_SUM"
      group_by     = ["resource.label.service_name"]
      runbook      = "A function answers 5xx to more than ${local.function_5xx_ratio * 100}% of its requests. Our code answers 503 google_unavailable when Google fails after retries, and 500 only on a bug: open the function's ERROR logs (grouped by trace) for the cause."
    }
    push_job_age = {
      display_name = "Push jobs waiting too long"
      condition    = "Oldest unacknowledged push job older than ${local.push_job_age_seconds} s"
      filter       = local.filters.push_job_age
      denominator  = null
      threshold    = local.push_job_age_seconds
      aligner      = "ALIGN_MAX"
      reducer      = "REDUCE_MAX"
      group_by     = ["resource.label.topic_id"]
      runbook      = "push_dispatch is not keeping up, or keeps failing a job (FCM unavailable or over quota). Mail and Drive pushes expire after 24 h, calendar after 1 h. Check push_dispatch's logs and FCM's status."
    }
  }
}

resource "google_monitoring_notification_channel" "channel" {
  for_each = var.alert_notification_channels

  project      = var.project_id
  display_name = each.key
  type         = each.value.type
  labels       = each.value.labels

  depends_on = [google_project_service.enabled]
}

# Every alert line, counted by its `alert` value and the function that wrote it.
resource "google_logging_metric" "alerts" {
  project     = var.project_id
  name        = local.alert_metric
  description = "Log lines of the functions with an alert field, by alert value and function."
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=(${join(" OR ", [for name in local.function_services : "\"${name}\""])})",
    "jsonPayload.alert:*",
  ])

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "alert"
      value_type  = "STRING"
      description = "The alert value, e.g. watch_repair_failed."
    }
    labels {
      key         = "function"
      value_type  = "STRING"
      description = "The Cloud Run service (function) that logged it."
    }
  }

  label_extractors = {
    alert    = "EXTRACT(jsonPayload.alert)"
    function = "EXTRACT(resource.labels.service_name)"
  }
}

resource "google_monitoring_alert_policy" "alert" {
  for_each = local.alert_policies

  project               = var.project_id
  display_name          = each.value.display_name
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "${each.value.display_name}: any in 5 minutes"

    condition_threshold {
      filter          = "${local.filters.alerts} AND metric.label.alert=one_of(${join(", ", [for value in each.value.alerts : "\"${value}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.alert", "metric.label.function"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    content   = each.value.runbook
    mime_type = "text/markdown"
  }
}

# Platform signals: one policy per entry of local.platform_policies.
resource "google_monitoring_alert_policy" "platform" {
  for_each = local.platform_policies

  project               = var.project_id
  display_name          = each.value.display_name
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = each.value.condition

    condition_threshold {
      filter             = each.value.filter
      denominator_filter = each.value.denominator
      comparison         = "COMPARISON_GT"
      threshold_value    = each.value.threshold
      duration           = "300s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = each.value.aligner
        cross_series_reducer = each.value.reducer
        group_by_fields      = each.value.group_by
      }

      dynamic "denominator_aggregations" {
        for_each = each.value.denominator == null ? [] : [each.value]
        content {
          alignment_period     = "300s"
          per_series_aligner   = denominator_aggregations.value.aligner
          cross_series_reducer = denominator_aggregations.value.reducer
          group_by_fields      = denominator_aggregations.value.group_by
        }
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    content   = each.value.runbook
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_dashboard" "operations" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "U+ Groupware Google backend"
    mosaicLayout = {
      columns = 12
      tiles = [
        for index, widget in [
          { title = "Alert log lines by alert value", filter = local.filters.alerts, aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group_by = ["metric.label.alert"] },
          { title = "Dead-letter messages waiting", filter = local.filters.dead_letters, aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", group_by = ["resource.label.subscription_id"] },
          { title = "5xx answers per second by function", filter = local.errors_5xx, aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["resource.label.service_name"] },
          { title = "Oldest push job waiting (s)", filter = local.filters.push_job_age, aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", group_by = ["resource.label.topic_id"] },
          ] : {
          xPos   = (index % 2) * 6
          yPos   = floor(index / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = widget.title
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = widget.filter
                    aggregation = {
                      alignmentPeriod    = "300s"
                      perSeriesAligner   = widget.aligner
                      crossSeriesReducer = widget.reducer
                      groupByFields      = widget.group_by
                    }
                  }
                }
              }]
            }
          }
        }
      ]
    }
  })
}
