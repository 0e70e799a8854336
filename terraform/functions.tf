# One Cloud Function (2nd gen) per entry point of main.ENTRY_POINTS, all from one source archive.
# Adding a function is one entry in local.functions (README.md lists the planned entries);
# tests/terraform checks that the entries equal main.ENTRY_POINTS.

locals {
  functions = {
    oauth_callback = {
      description = "OAuth callback: Google redirects the user's browser here after consent (state + PKCE)."
      kind        = "http" # http: public HTTPS; event: Pub/Sub topic via Eventarc, private
      public      = true   # the user's browser arrives without Google credentials; the single-use state authenticates
      topic       = null   # event functions: key of local.topics
      # Same libraries as account_api (oauthlib, Firestore, API client to start watches): 512Mi.
      memory = "512Mi"
      # A whole vCPU shortens the cold start the user waits through (imports are CPU bound).
      cpu = "1"
      # Code exchange, ID-token check and watch starts take a few seconds; the browser is waiting.
      timeout_seconds = 60
      # Runs only when a user links an account.
      max_instances = 10
      # Rare traffic; one request per instance keeps the OAuth flow and API clients unshared.
      concurrency = 1
      # Names of local.settings it reads (each an env var and a field of shared.settings.Settings).
      settings = [
        "GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_REDIRECT_URI", "TOKEN_ENCRYPTION_KEY_ID", "APP_DEEP_LINK",
        # A completed link starts the Gmail watch and the Calendar/Drive channels.
        "GMAIL_TOPIC", "CALENDAR_WEBHOOK_URL", "DRIVE_WEBHOOK_URL",
      ]
      env            = {}                                               # further literal env vars, e.g. { MAX_REQUEST_BYTES = "8192" }
      secrets        = ["oauth-client-secret", "token-encryption-keys"] # keys of local.secrets (secret env vars, accessor IAM)
      publish_topics = []                                               # keys of local.topics it publishes to (topic-level publisher)
      fcm_sender     = false                                            # may send FCM messages
    }
    account_api = {
      description = "Account API: linking, status, devices, preferences, activity, export, erase (Firebase ID token)."
      kind        = "http"
      public      = true # the app calls it directly; every route checks a Firebase ID token
      topic       = null
      # Firestore + firebase-admin + google-api-python-client imports take ~150 MB; 512Mi leaves room for an export.
      memory = "512Mi"
      # Concurrency above 1 needs a whole vCPU; it also shortens cold starts.
      cpu = "1"
      # Interactive calls answer in well under a second; one user's data export is the slowest and stays under a minute.
      timeout_seconds = 60
      # App traffic is light; the cap bounds cost and Firestore load if a client misbehaves.
      max_instances = 20
      # I/O bound; Firestore (gRPC) and firebase-admin clients are thread-safe, Google API calls use one Http per request.
      concurrency = 8
      # Start link, native code exchange, token refresh and revoke need the OAuth client and the vault.
      # Native exchange starts watches like the OAuth callback does.
      settings = [
        "GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_REDIRECT_URI", "TOKEN_ENCRYPTION_KEY_ID",
        "GMAIL_TOPIC", "CALENDAR_WEBHOOK_URL", "DRIVE_WEBHOOK_URL",
      ]
      env            = {}
      secrets        = ["oauth-client-secret", "token-encryption-keys"]
      publish_topics = []
      fcm_sender     = false
    }
    calendar_api = {
      description = "Calendar API: the user's calendars and events on Google Calendar (Firebase ID token)."
      kind        = "http"
      public      = true # the app calls it directly; every route but /openapi.json checks a Firebase ID token
      topic       = null
      # Firestore + firebase-admin + google-api-python-client imports take ~150 MB; event pages are small.
      memory = "512Mi"
      # Concurrency above 1 needs a whole vCPU; it also shortens cold starts.
      cpu = "1"
      # A call is one or two Google requests; retries stay inside a 20 s budget, well under this.
      timeout_seconds = 60
      # App traffic is light; the cap bounds cost and the Calendar API request rate.
      max_instances = 20
      # I/O bound; each Google request gets its own HTTP object, Firestore and firebase-admin are thread-safe.
      concurrency = 8
      # Token refresh needs the OAuth client and the vault; nothing else.
      settings       = ["GOOGLE_OAUTH_CLIENT_ID", "TOKEN_ENCRYPTION_KEY_ID"]
      env            = {}
      secrets        = ["oauth-client-secret", "token-encryption-keys"]
      publish_topics = []
      fcm_sender     = false
    }

    calendar_webhook = {
      description = "Calendar webhook: Google Calendar channel notifications (authenticated by channel secret)."
      kind        = "http"
      public      = true # Google's push servers carry no credentials; the per-channel secret authenticates
      topic       = null
      # Firestore + API client for the incremental sync it runs inline.
      memory = "512Mi"
      cpu    = "1"
      # One sync pass of a calendar (a few list pages) plus the commit.
      timeout_seconds = 60
      # Bursts of notifications coalesce on a Firestore lease, so few instances do the work.
      max_instances = 20
      # I/O bound; one Http per sync pass.
      concurrency = 8
      settings = [
        "GOOGLE_OAUTH_CLIENT_ID", "TOKEN_ENCRYPTION_KEY_ID", "PUSH_JOBS_TOPIC", "MAINTENANCE_WORK_TOPIC", "CALENDAR_WEBHOOK_URL",
      ]
      env            = {}
      secrets        = ["oauth-client-secret", "token-encryption-keys"]
      publish_topics = ["push-jobs", "maintenance-work"] # sync follow-ups
      fcm_sender     = false
    }
    drive_webhook = {
      description = "Drive webhook: Google Drive changes channel notifications (authenticated by channel secret)."
      kind        = "http"
      public      = true # Google's push servers carry no credentials; the per-channel secret authenticates
      topic       = null
      memory      = "512Mi"
      cpu         = "1"
      # One sync pass of Drive changes (pages of 100) plus the commit.
      timeout_seconds = 60
      max_instances   = 20
      concurrency     = 8
      settings = [
        "GOOGLE_OAUTH_CLIENT_ID", "TOKEN_ENCRYPTION_KEY_ID", "PUSH_JOBS_TOPIC", "MAINTENANCE_WORK_TOPIC", "DRIVE_WEBHOOK_URL",
      ]
      env            = {}
      secrets        = ["oauth-client-secret", "token-encryption-keys"]
      publish_topics = ["push-jobs", "maintenance-work"] # sync follow-ups
      fcm_sender     = false
    }
    gmail_receiver = {
      description = "Gmail receiver: users.watch notifications from Pub/Sub; syncs history and enqueues pushes."
      kind        = "event"
      public      = false
      topic       = "gmail-notifications"
      memory      = "512Mi"
      cpu         = "1"
      # Within the subscription's ack deadline; a slow sync is retried and coalesced.
      timeout_seconds = 60
      max_instances   = 20
      concurrency     = 8
      settings        = ["GOOGLE_OAUTH_CLIENT_ID", "TOKEN_ENCRYPTION_KEY_ID", "PUSH_JOBS_TOPIC", "MAINTENANCE_WORK_TOPIC"]
      env             = {}
      secrets         = ["oauth-client-secret", "token-encryption-keys"]
      publish_topics  = ["push-jobs", "maintenance-work"] # sync follow-ups
      fcm_sender      = false
    }
    watch_maintenance = {
      description = "Maintenance tick: claims the sources due for upkeep and publishes them as bounded work batches."
      kind        = "event"
      public      = false
      topic       = "maintenance-ticks"
      memory      = "256Mi"
      cpu         = "1"
      # At most 5,000 claims (10 query pages and 10 BatchWrite calls) per invocation, then a
      # continuation message: seconds, whatever the number of accounts.
      timeout_seconds = 120
      max_instances   = 2
      concurrency     = 1
      settings        = ["MAINTENANCE_WORK_TOPIC", "MAINTENANCE_TICKS_TOPIC"]
      env             = {}
      secrets         = []
      publish_topics  = ["maintenance-work", "maintenance-ticks"]
      fcm_sender      = false
    }
    maintenance_worker = {
      description = "Maintenance worker: one batch of at most 30 sources (repair, renew, re-watch, reconcile), a sync follow-up or 500 stale devices."
      kind        = "event"
      public      = false
      topic       = "maintenance-work"
      memory      = "512Mi"
      cpu         = "1"
      # A batch of 30 sources, each at worst a renewal and a 5-pass sync with Google retries.
      timeout_seconds = 540
      # Bounds the Google request rate of maintenance (per-project quotas: docs/scale.md).
      max_instances = 20
      concurrency   = 4
      settings = [
        "GOOGLE_OAUTH_CLIENT_ID", "TOKEN_ENCRYPTION_KEY_ID", "PUSH_JOBS_TOPIC", "GMAIL_TOPIC",
        "CALENDAR_WEBHOOK_URL", "DRIVE_WEBHOOK_URL", "MAINTENANCE_WORK_TOPIC",
      ]
      env            = {}
      secrets        = ["oauth-client-secret", "token-encryption-keys"]
      publish_topics = ["push-jobs", "maintenance-work"]
      fcm_sender     = false
    }
    push_dispatch = {
      description = "Push dispatch: one push-jobs message to the user's devices via FCM, once per device."
      kind        = "event"
      public      = false
      topic       = "push-jobs"
      # firebase-admin + Firestore only; no Google API client.
      memory = "256Mi"
      cpu    = "1"
      # One multicast of at most 500 tokens per language, with firebase-admin's own retries.
      timeout_seconds = 60
      # Bounds the FCM and Firestore request rates.
      max_instances = 20
      # I/O bound; firebase-admin and Firestore clients are thread-safe.
      concurrency    = 4
      settings       = []
      env            = {}
      secrets        = []
      publish_topics = []
      fcm_sender     = true # the custom fcmSender role (cloudmessaging.messages.create)
    }
  }

  # Sizes after the operator's overrides (var.function_settings, keyed by entry point).
  function_sizes = {
    for name, fn in local.functions : name => {
      min_instances   = try(var.function_settings[name].min_instances, 0)
      max_instances   = coalesce(try(var.function_settings[name].max_instances, null), fn.max_instances)
      memory          = coalesce(try(var.function_settings[name].memory, null), fn.memory)
      timeout_seconds = coalesce(try(var.function_settings[name].timeout_seconds, null), fn.timeout_seconds)
      concurrency     = coalesce(try(var.function_settings[name].concurrency, null), fn.concurrency)
      log_level       = coalesce(try(var.function_settings[name].log_level, null), var.log_level)
    }
  }

  event_functions = { for name, fn in local.functions : name => fn if fn.kind == "event" }
  public_http_functions = {
    for name, fn in local.functions : name => fn if fn.kind == "http" && fn.public
  }
}

resource "google_cloudfunctions2_function" "function" {
  for_each = local.functions

  project     = var.project_id
  location    = var.region
  name        = replace(each.key, "_", "-")
  description = each.value.description

  build_config {
    runtime           = "python311"
    entry_point       = each.key
    service_account   = google_service_account.builder.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = local.function_sizes[each.key].memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = local.function_sizes[each.key].timeout_seconds
    max_instance_request_concurrency = local.function_sizes[each.key].concurrency
    min_instance_count               = local.function_sizes[each.key].min_instances
    max_instance_count               = local.function_sizes[each.key].max_instances
    ingress_settings                 = each.value.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function[each.key].email
    environment_variables = merge(
      local.common_env,
      { LOG_LEVEL = local.function_sizes[each.key].log_level },
      { for name in each.value.settings : name => local.settings[name] },
      each.value.env,
    )

    dynamic "secret_environment_variables" {
      for_each = toset(each.value.secrets)
      content {
        key        = local.secrets[secret_environment_variables.value].env_name
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = var.secret_versions[secret_environment_variables.value]
      }
    }
  }

  dynamic "event_trigger" {
    for_each = each.value.kind == "event" ? [each.value.topic] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = google_pubsub_topic.topic[event_trigger.value].id
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.eventarc_trigger.email
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_secret_manager_secret_iam_member.function,
    google_artifact_registry_repository_iam_member.builder,
    google_storage_bucket_iam_member.builder,
    google_project_iam_member.builder,
  ]
}

# Public HTTPS functions: anyone may reach the code, which authenticates every request itself.
resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  for_each = local.public_http_functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Event functions: only the Eventarc trigger identity may invoke them.
resource "google_cloud_run_v2_service_iam_member" "trigger_invoker" {
  for_each = local.event_functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.eventarc_trigger.member
}

# Eventarc owns the push subscription of each trigger, and the provider cannot set its dead-letter
# policy; Google's documented way is to update that subscription, done here once per trigger.
# Needs gcloud, authenticated as the operator, on the machine that runs terraform apply.
resource "terraform_data" "trigger_dead_letter" {
  for_each = local.event_functions

  triggers_replace = [
    google_cloudfunctions2_function.function[each.key].event_trigger[0].trigger,
    google_pubsub_topic.dead_letter[each.value.topic].id,
    var.dead_letter_max_delivery_attempts,
  ]

  provisioner "local-exec" {
    interpreter = ["bash", "-c"]
    command     = <<-EOT
      set -euo pipefail
      subscription="$(gcloud eventarc triggers describe "$TRIGGER" --format='value(transport.pubsub.subscription)')"
      gcloud pubsub subscriptions update "$subscription" \
        --dead-letter-topic="$DEAD_LETTER_TOPIC" \
        --max-delivery-attempts="$MAX_ATTEMPTS" \
        --min-retry-delay=10s --max-retry-delay=600s
      gcloud pubsub subscriptions add-iam-policy-binding "$subscription" \
        --member="serviceAccount:$PUBSUB_AGENT" --role=roles/pubsub.subscriber >/dev/null
    EOT
    environment = {
      TRIGGER           = google_cloudfunctions2_function.function[each.key].event_trigger[0].trigger
      DEAD_LETTER_TOPIC = google_pubsub_topic.dead_letter[each.value.topic].id
      MAX_ATTEMPTS      = tostring(var.dead_letter_max_delivery_attempts)
      PUBSUB_AGENT      = local.pubsub_service_agent
    }
  }

  depends_on = [google_pubsub_topic_iam_member.dead_letter_publisher]
}
