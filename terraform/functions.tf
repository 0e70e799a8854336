# One Cloud Function (2nd gen) per entry of functions/manifest.json, all from one source archive.
# Adding a function is one entry in the manifest and its module in functions/.

locals {
  # The deployed functions, written once in functions/manifest.json (main.py, the local stack
  # and the tests read the same file): trigger, public, topic, retry, sizes, settings, secrets.
  functions = jsondecode(file("${path.module}/../functions/manifest.json")).functions

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

  event_functions = { for name, fn in local.functions : name => fn if fn.trigger == "event" }
  public_http_functions = {
    for name, fn in local.functions : name => fn if fn.trigger == "http" && fn.public
  }
}

resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:ALLOW_ALL only for the manifest's public HTTP functions (the app's APIs, the OAuth callback, the channel webhooks), each authenticating its caller; event functions are ALLOW_INTERNAL_ONLY (tests/terraform checks both)
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
    for_each = each.value.trigger == "event" ? [each.value.topic] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = google_pubsub_topic.topic[event_trigger.value].id
      retry_policy          = each.value.retry ? "RETRY_POLICY_RETRY" : "RETRY_POLICY_DO_NOT_RETRY"
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
