# Ticks for watch_maintenance. Renewal keeps Calendar/Drive channels and the Gmail watch alive
# (Gmail at least daily, Drive channels last about a day); reconcile syncs accounts that got no
# push for a while, because Google drops some. Payload: JSON {"task": "<name>"}, also as attribute.

locals {
  maintenance_jobs = {
    renew = {
      schedule    = "0 * * * *"
      description = "Renew channels and watches that expire soon; stop those of unlinked users."
    }
    reconcile = {
      schedule    = "*/15 * * * *"
      description = "Sync accounts that have not synced for a while (pushes Google dropped)."
    }
    prune = {
      schedule    = "30 3 * * *"
      description = "Delete a bounded batch of devices not registered again for DEVICE_STALE_DAYS."
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
