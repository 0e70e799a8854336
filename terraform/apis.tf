locals {
  services = toset([
    "artifactregistry.googleapis.com",     # function images
    "calendar-json.googleapis.com",        # Calendar API v3 (user data, events.watch)
    "cloudbuild.googleapis.com",           # builds the function source
    "cloudfunctions.googleapis.com",       # Cloud Functions 2nd gen
    "cloudresourcemanager.googleapis.com", # project IAM
    "cloudscheduler.googleapis.com",       # maintenance ticks
    "drive.googleapis.com",                # Drive API v3 (changes.watch)
    "eventarc.googleapis.com",             # Pub/Sub triggers of event functions
    "fcm.googleapis.com",                  # Firebase Cloud Messaging HTTP v1
    "firebase.googleapis.com",             # Firebase project (FCM, Auth)
    "firebaserules.googleapis.com",        # Firestore security rules
    "firestore.googleapis.com",            # state
    "gmail.googleapis.com",                # Gmail API (users.watch, history.list)
    "iam.googleapis.com",                  # service accounts
    "iamcredentials.googleapis.com",       # OIDC tokens for Eventarc and Pub/Sub push
    "identitytoolkit.googleapis.com",      # Firebase Auth (ID tokens of the app)
    "logging.googleapis.com",              # function and build logs, log-based metrics
    "monitoring.googleapis.com",           # alert policies, dashboard, notification channels
    "pubsub.googleapis.com",               # topics
    "run.googleapis.com",                  # 2nd gen functions run on Cloud Run
    "secretmanager.googleapis.com",        # OAuth client secret, token encryption keys
    "storage.googleapis.com",              # source archive bucket
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project = var.project_id
  service = each.value

  # Other workloads of the project may use the same APIs.
  disable_on_destroy         = false
  disable_dependent_services = false
}
