# The deploy archive (main.py, functions/, shared/, requirements.txt from uv.lock) is built by
# scripts/build_source.py before `terraform apply`: Terraform cannot run uv. The object name
# carries the archive's sha256, so a code change uploads a new object and redeploys every function.

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Holds only build inputs named by content hash; Cloud Audit Logs record access, a second log bucket adds nothing.
  #checkov:skip=CKV_GCP_78:Objects are immutable and named by their sha256, so versioning would keep nothing new.
  project  = var.project_id
  name     = "${var.project_id}-function-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Cloud Build reads an archive only while building; old archives are kept for a rollback window.
  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_object" "source" {
  name   = "source-${filesha256(local.source_archive)}.zip"
  bucket = google_storage_bucket.source.name
  source = local.source_archive
}

# Function images: our own repository (instead of gcf-artifacts) so the builder gets repo-level rights
# and old images are cleaned up.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Customer-managed keys are not required for this deployment; images hold the function code and public packages, encrypted with Google-managed keys.
  project       = var.project_id
  location      = var.region
  repository_id = "functions"
  format        = "DOCKER"
  description   = "Images built from the function source archive."

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.enabled]
}
