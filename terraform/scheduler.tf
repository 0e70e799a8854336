# Ticks for watch_maintenance. A tick queries only the sources whose due time has come
# (renewal, Gmail re-watch, repair of a failed watch, adaptive reconcile) and publishes them in
# bounded batches to maintenance-work; the period bounds how late due work starts (docs/scale.md).
# Payload: JSON {"task": "<name>"}, also as attribute.

locals {
  maintenance_jobs = {
    tick = {
      schedule    = "*/5 * * * *"
      description = "Claim the sources due for renewal, re-watch, repair or reconcile; publish them as work."
    }
    prune = {
      schedule    = "30 3 * * *"
      description = "Start pruning devices not registered again for DEVICE_STALE_DAYS (500 per work message)."
    }
  }
}

resource "google_cloud_scheduler_job" "maintenance" {
  for_each = local.maintenance_jobs

  project     = var.project_id
  region      = var.region
  name        = "maintenance-${each.key}"
  description = each.value.description
  schedule    = each.value.schedule
  time_zone   = "Etc/UTC"

  # The next tick comes soon enough; a missed one is not worth retrying.
  retry_config {
    retry_count = 0
  }

  pubsub_target {
    topic_name = google_pubsub_topic.topic["maintenance-ticks"].id
    data       = base64encode(jsonencode({ task = each.key }))
    attributes = { task = each.key }
  }

  depends_on = [google_project_service.enabled]
}
