variable "project_id" {
  description = "Google Cloud project id (already a Firebase project: the mobile app signs in with its Firebase Auth)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be 6-30 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "region" {
  description = "Region of the functions, the Eventarc triggers, the scheduler jobs and the source bucket."
  type        = string
  default     = "asia-northeast3"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Cloud region name such as asia-northeast3 or us-central1."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore database (a region such as asia-northeast3, or a multi-region nam5/eur3). Cannot change after creation."
  type        = string
  default     = "asia-northeast3"

  validation {
    condition     = can(regex("^([a-z]+-[a-z]+[0-9]|nam[0-9]+|eur[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be a region (asia-northeast3) or a multi-region (nam5, eur3)."
  }
}

variable "google_oauth_client_id" {
  description = "OAuth 2.0 web client id used for account linking (its secret goes into Secret Manager, not here)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+-[a-z0-9]+\\.apps\\.googleusercontent\\.com$", var.google_oauth_client_id))
    error_message = "google_oauth_client_id must look like 123456789012-abc123.apps.googleusercontent.com."
  }
}

variable "oauth_redirect_uri" {
  description = "Redirect URI registered on the OAuth client. Null: the oauth-callback function's own URL."
  type        = string
  default     = null

  validation {
    condition     = var.oauth_redirect_uri == null || can(regex("^https://[^\\s?#]+$", var.oauth_redirect_uri))
    error_message = "oauth_redirect_uri must be an https URL without query or fragment."
  }
}

variable "app_deep_link" {
  description = "Where the OAuth callback sends the browser back to the app, e.g. uplusgroupware://link-complete. Never taken from a request."
  type        = string

  validation {
    condition = (
      can(regex("^[a-z][a-z0-9+.-]*://[^\\s]+$", var.app_deep_link))
      && !startswith(var.app_deep_link, "http://")
    )
    error_message = "app_deep_link must be <scheme>://... with a lowercase custom scheme or https (plain http is refused)."
  }
}

variable "webhook_base_url" {
  description = "Public base URL of the Calendar/Drive webhook functions, on a domain you can verify for push channels. Null: https://REGION-PROJECT.cloudfunctions.net."
  type        = string
  default     = null

  validation {
    condition     = var.webhook_base_url == null || can(regex("^https://[^\\s?#]+[^/]$", var.webhook_base_url))
    error_message = "webhook_base_url must be an https URL without a trailing slash, query or fragment."
  }
}

variable "token_encryption_key_id" {
  description = "Id (inside the token-encryption-keys secret) of the key used to encrypt new refresh tokens; older ids stay for decryption."
  type        = string
  default     = "k1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,32}$", var.token_encryption_key_id))
    error_message = "token_encryption_key_id must be 1-32 characters of letters, digits, '_' or '-'."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "source_archive" {
  description = "Path of the deploy archive written by scripts/build_source.py. Null: terraform/.build/source.zip."
  type        = string
  default     = null
}

variable "function_settings" {
  description = "Per-function overrides of the sizes chosen in functions.tf, keyed by entry point (e.g. { account_api = { min_instances = 1 } }); an omitted field keeps the chosen value."
  type = map(object({
    min_instances   = optional(number, 0)
    max_instances   = optional(number)
    memory          = optional(string)
    timeout_seconds = optional(number)
    concurrency     = optional(number)
    log_level       = optional(string)
  }))
  default = {}

  validation {
    condition = alltrue([
      for name, fn in var.function_settings : contains([
        "oauth_callback", "account_api", "calendar_api", "calendar_webhook", "drive_webhook",
        "gmail_receiver", "push_dispatch", "watch_maintenance", "maintenance_worker",
      ], name)
      && fn.min_instances >= 0
      && (fn.max_instances == null ? true : fn.max_instances >= 1)
      && (fn.memory == null ? true : can(regex("^[0-9]+(Mi|Gi)$", fn.memory)))
      && (fn.timeout_seconds == null ? true : fn.timeout_seconds >= 1 && fn.timeout_seconds <= 3600)
      && (fn.concurrency == null ? true : fn.concurrency >= 1 && fn.concurrency <= 1000)
      && (fn.log_level == null ? true : contains(["DEBUG", "INFO", "WARNING", "ERROR"], fn.log_level))
    ])
    error_message = "function_settings keys must be entry-point names; min_instances >= 0, max_instances >= 1, memory like 512Mi, timeout_seconds 1-3600, concurrency 1-1000, log_level DEBUG/INFO/WARNING/ERROR."
  }
}

variable "secret_versions" {
  description = "Secret Manager version number each function reads, keyed by secret id (never \"latest\": a new version reaches the functions only through a reviewed apply). Rotation: terraform/README.md."
  type        = map(string)
  default = {
    "oauth-client-secret"   = "1"
    "token-encryption-keys" = "1"
  }

  validation {
    condition     = alltrue([for id, version in var.secret_versions : can(regex("^[1-9][0-9]*$", version))])
    error_message = "secret_versions values must be version numbers such as \"2\" (not \"latest\")."
  }
}

variable "dead_letter_max_delivery_attempts" {
  description = "Deliveries of one Pub/Sub message before it goes to the topic's dead-letter topic."
  type        = number
  default     = 10

  validation {
    condition     = var.dead_letter_max_delivery_attempts >= 5 && var.dead_letter_max_delivery_attempts <= 100
    error_message = "Pub/Sub allows 5 to 100 delivery attempts."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}

variable "alert_notification_channels" {
  description = "Where alert policies notify, keyed by display name: a Cloud Monitoring channel type (email, slack, pagerduty, webhook_tokenauth, ...) and its labels, e.g. { ops = { type = \"email\", labels = { email_address = \"ops@example.com\" } } }. Empty: policies fire in the console only."
  type = map(object({
    type   = string
    labels = map(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for name, channel in var.alert_notification_channels : can(regex("^[a-z_]+$", channel.type))])
    error_message = "alert_notification_channels: type must be a Cloud Monitoring channel type such as email or slack."
  }
}
