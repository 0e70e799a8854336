locals {
  # Deterministic 2nd gen URL of a function, known before it exists (no dependency cycles).
  functions_base_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"

  oauth_redirect_uri = coalesce(var.oauth_redirect_uri, "${local.functions_base_url}/oauth-callback")
  webhook_base_url   = coalesce(var.webhook_base_url, local.functions_base_url)

  webhook_urls = {
    calendar = "${local.webhook_base_url}/calendar-webhook"
    drive    = "${local.webhook_base_url}/drive-webhook"
  }

  pubsub_service_agent = "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Every function gets these; names are fields of shared.settings.Settings.
  common_env = {
    PRODUCTION           = "true"
    GOOGLE_CLOUD_PROJECT = var.project_id
    LOG_LEVEL            = var.log_level
  }

  # Values of the settings that only some functions read. A function entry lists the names it
  # needs in its `settings`; the tests require each name to be a field of shared.settings.Settings.
  settings = {
    GOOGLE_OAUTH_CLIENT_ID    = var.google_oauth_client_id
    GOOGLE_OAUTH_REDIRECT_URI = local.oauth_redirect_uri
    APP_DEEP_LINK             = var.app_deep_link
    TOKEN_ENCRYPTION_KEY_ID   = var.token_encryption_key_id
    PUSH_JOBS_TOPIC           = google_pubsub_topic.topic["push-jobs"].name
    GMAIL_TOPIC               = google_pubsub_topic.topic["gmail-notifications"].name
    CALENDAR_WEBHOOK_URL      = local.webhook_urls.calendar
    DRIVE_WEBHOOK_URL         = local.webhook_urls.drive
    MAINTENANCE_WORK_TOPIC    = google_pubsub_topic.topic["maintenance-work"].name
    MAINTENANCE_TICKS_TOPIC   = google_pubsub_topic.topic["maintenance-ticks"].name
  }

  source_archive = coalesce(var.source_archive, "${path.module}/.build/source.zip")
}
