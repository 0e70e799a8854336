# Topics of the system. Event functions subscribe through Eventarc (functions.tf); every topic has
# a dead-letter topic with a pull subscription where undeliverable messages wait for an operator.

locals {
  topics = {
    "gmail-notifications" = {
      description = "Gmail users.watch notifications ({emailAddress, historyId}) for gmail_receiver."
    }
    "push-jobs" = {
      description = "One job per push to send; the receivers publish, push_dispatch consumes."
    }
    "maintenance-ticks" = {
      description = "Cloud Scheduler ticks ({task}) for watch_maintenance, and its own continuations."
    }
    "maintenance-work" = {
      description = "Bounded maintenance batches (claimed sources, sync follow-ups, prune) for maintenance_worker."
    }
  }

  # A day of history lets an operator seek a subscription back after a bad deploy.
  topic_retention = "86400s"
  # Dead letters are kept as long as Pub/Sub allows, for inspection and replay.
  dead_letter_retention = "604800s"
}

resource "google_pubsub_topic" "topic" {
  for_each = local.topics
  #checkov:skip=CKV_GCP_83:Customer-managed keys are not required for this deployment; messages live at most a day, encrypted with Google-managed keys.

  project                    = var.project_id
  name                       = each.key
  message_retention_duration = local.topic_retention

  labels = { purpose = replace(each.key, "-", "_") }

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.topics
  #checkov:skip=CKV_GCP_83:Customer-managed keys are not required for this deployment; dead letters live at most 7 days, encrypted with Google-managed keys.

  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  message_retention_duration = local.dead_letter_retention

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.topics

  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = local.dead_letter_retention
  retain_acked_messages      = true
  ack_deadline_seconds       = 60

  # Never expire for inactivity: dead letters are rare and must still be there when they come.
  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# Pub/Sub forwards undeliverable messages as its service agent, which must publish to the
# dead-letter topic (and subscribe to the source subscription: functions.tf).
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.topics

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${local.pubsub_service_agent}"
}

# Gmail's push service is the only publisher from outside the project.
resource "google_pubsub_topic_iam_member" "gmail_push_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.topic["gmail-notifications"].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:gmail-api-push@system.gserviceaccount.com"
}
