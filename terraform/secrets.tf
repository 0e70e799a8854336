# Secret values never pass through Terraform (they would land in state): the operator adds them with
#   printf %s "$VALUE" | gcloud secrets versions add SECRET_ID --data-file=-
# Functions read them as secret_environment_variables at the version pinned in var.secret_versions
# (never "latest", so a new version takes effect only through an apply), declared per function in
# local.functions.secrets, and each function may access only the secrets it declares (iam.tf).

locals {
  secrets = {
    "oauth-client-secret" = {
      env_name    = "GOOGLE_OAUTH_CLIENT_SECRET"
      description = "Client secret of the OAuth web client var.google_oauth_client_id."
    }
    "token-encryption-keys" = {
      env_name    = "TOKEN_ENCRYPTION_KEYS"
      description = "JSON object key id => base64 of a 256-bit AES-GCM key, for refresh tokens at rest."
    }
  }
}

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.key

  annotations = {
    env_name    = each.value.env_name
    description = each.value.description
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
