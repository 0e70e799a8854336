# One identity per function, granted only what that function's entry in local.functions asks for.

locals {
  function_secrets = merge([
    for name, fn in local.functions : {
      for secret in fn.secrets : "${name}/${secret}" => { function = name, secret = secret }
    }
  ]...)

  function_publishers = merge([
    for name, fn in local.functions : {
      for topic in fn.publish_topics : "${name}/${topic}" => { function = name, topic = topic }
    }
  ]...)

  fcm_senders = { for name, fn in local.functions : name => fn if fn.fcm_sender }
}

resource "google_service_account" "function" {
  for_each = local.functions

  project      = var.project_id
  account_id   = "fn-${replace(each.key, "_", "-")}"
  display_name = "Cloud Function ${each.key}"
  description  = "Runtime identity of the ${each.key} function."
}

# Firestore IAM is project-level; every function reads and writes application state.
resource "google_project_iam_member" "function_firestore" {
  for_each = local.functions

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member
}

resource "google_secret_manager_secret_iam_member" "function" {
  for_each = local.function_secrets

  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}

resource "google_pubsub_topic_iam_member" "function_publisher" {
  for_each = local.function_publishers

  project = var.project_id
  topic   = google_pubsub_topic.topic[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function[each.value.function].member
}

# FCM HTTP v1 needs only this permission; the predefined role also administers FCM settings.
resource "google_project_iam_custom_role" "fcm_sender" {
  project     = var.project_id
  role_id     = "fcmSender"
  title       = "FCM sender"
  description = "Send Firebase Cloud Messaging messages, nothing else."
  permissions = ["cloudmessaging.messages.create"]
}

resource "google_project_iam_member" "function_fcm_sender" {
  for_each = local.fcm_senders

  project = var.project_id
  role    = google_project_iam_custom_role.fcm_sender.id
  member  = google_service_account.function[each.key].member
}

# Eventarc pushes Pub/Sub messages to the event functions with an OIDC token of this account;
# it holds run.invoker on those services only (functions.tf).
resource "google_service_account" "eventarc_trigger" {
  project      = var.project_id
  account_id   = "eventarc-trigger"
  display_name = "Eventarc trigger of the event functions"
}

# The Pub/Sub service agent mints the push tokens of that account (needed on projects created before April 2021).
resource "google_service_account_iam_member" "pubsub_agent_token_creator" {
  service_account_id = google_service_account.eventarc_trigger.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${local.pubsub_service_agent}"

  depends_on = [google_project_service.enabled]
}

# Cloud Build runs the function builds as this account instead of the default compute account.
resource "google_service_account" "builder" {
  project      = var.project_id
  account_id   = "function-builder"
  display_name = "Cloud Functions build"
}

resource "google_project_iam_member" "builder" {
  for_each = toset(["roles/logging.logWriter"])

  project = var.project_id
  role    = each.value
  member  = google_service_account.builder.member
}

resource "google_storage_bucket_iam_member" "builder" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.builder.member
}

resource "google_artifact_registry_repository_iam_member" "builder" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.builder.member
}
