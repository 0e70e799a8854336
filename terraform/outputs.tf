output "function_urls" {
  description = "URL of every deployed function, by entry point."
  value       = { for name, fn in google_cloudfunctions2_function.function : name => fn.url }
}

output "account_api_url" {
  description = "Base URL of the account API for the app (null until account_api is deployed)."
  value       = try(google_cloudfunctions2_function.function["account_api"].url, null)
}

output "calendar_api_url" {
  description = "Base URL of the Calendar API for the app (null until calendar_api is deployed)."
  value       = try(google_cloudfunctions2_function.function["calendar_api"].url, null)
}

output "oauth_redirect_uri" {
  description = "Authorized redirect URI to register on the OAuth web client in the Google Cloud console."
  value       = local.oauth_redirect_uri
}

output "webhook_urls" {
  description = "Addresses given to Google Calendar and Drive push channels (their domain must be verified for push)."
  value       = local.webhook_urls
}

output "function_service_accounts" {
  description = "Runtime service account of each function, by entry point."
  value       = { for name, sa in google_service_account.function : name => sa.email }
}

output "eventarc_trigger_service_account" {
  description = "Identity Eventarc uses to invoke the event functions."
  value       = google_service_account.eventarc_trigger.email
}

output "builder_service_account" {
  description = "Identity of the function builds."
  value       = google_service_account.builder.email
}

output "topics" {
  description = "Full names of the Pub/Sub topics (gmail-notifications is the topicName of Gmail users.watch)."
  value       = { for name, topic in google_pubsub_topic.topic : name => topic.id }
}

output "source_object" {
  description = "Deployed source archive object (its name carries the archive's sha256)."
  value       = "gs://${google_storage_bucket.source.name}/${google_storage_bucket_object.source.name}"
}
