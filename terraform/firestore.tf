# The (default) Firestore database in native mode, the code's only store. Only the functions'
# service accounts reach it (IAM); security rules shut out every direct client (app or web).

locals {
  # Collection (group) => timestamp field after which Firestore TTL deletes the document, within
  # about a day; the code checks expiry itself too. "activity" is the collection group of the
  # users/{uid}/activity feeds, "events" of the users/{uid}/cursors/{calendar}/events records:
  # only a document holding nothing but marks of the user's own Calendar writes has
  # `expires_at` (the sync's record write removes it; shared/adapters/own_marks.py).
  ttl_fields = {
    oauth_states = "expires_at"
    idempotency  = "expires_at"
    push_claims  = "expires_at"
    activity     = "expires_at"
    events       = "expires_at"
    # Drains the users/{uid}/own_changes documents written before the marks moved onto the
    # event records (2 days of retention); drop this entry in the release after.
    own_changes = "expires_at"
  }
}

resource "google_firestore_database" "main" {
  project     = var.project_id
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  # `terraform destroy` leaves the data in place.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.enabled]
}

resource "google_firestore_field" "ttl" {
  for_each = local.ttl_fields

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.key
  field      = each.value

  ttl_config {}

  # No single-field index on the TTL timestamp: nothing queries it, and indexing a steadily
  # increasing timestamp creates write hotspots (Google's TTL guidance).
  index_config {}
}

# Collection-group queries (the maintenance tick reads every user's cursors by due_at; pruning
# scans devices) need collection-group single-field indexes, which Firestore does not create on
# its own. Collection scope stays indexed as well.
locals {
  collection_group_fields = {
    cursors_due_at       = { collection = "cursors", field = "due_at" }
    devices_last_seen_at = { collection = "devices", field = "last_seen_at" }
  }
}

resource "google_firestore_field" "collection_group_index" {
  for_each = local.collection_group_fields

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.value.collection
  field      = each.value.field

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
}

# The activity feed: newest first by (created_at, id), optionally one category.
resource "google_firestore_index" "activity_feed" {
  for_each = {
    all         = []
    by_category = ["category"]
  }

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "activity"

  dynamic "fields" {
    for_each = each.value
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }
  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
  fields {
    field_path = "id"
    order      = "DESCENDING"
  }
}

resource "google_firebaserules_ruleset" "firestore" {
  project = var.project_id

  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/firestore.rules")
    }
  }

  depends_on = [google_firestore_database.main]
}

resource "google_firebaserules_release" "firestore" {
  project      = var.project_id
  name         = "cloud.firestore"
  ruleset_name = "projects/${var.project_id}/rulesets/${google_firebaserules_ruleset.firestore.name}"

  lifecycle {
    replace_triggered_by = [google_firebaserules_ruleset.firestore]
  }
}

# Fields nothing queries: no single-field indexes, so writes do not pay for index entries and
# map fields cannot grow a document's index entries toward Firestore's 40,000 limit. The
# calendar event records (users/{uid}/cursors/{calendar}/events, one per event, read by id
# only) and the user document's maps (preferences, google link state, read by id only).
locals {
  unindexed_fields = {
    events_id        = { collection = "events", field = "id" }
    events_etag      = { collection = "events", field = "etag" }
    events_title     = { collection = "events", field = "title" }
    events_start     = { collection = "events", field = "start" }
    events_series    = { collection = "events", field = "series" }
    events_cancelled = { collection = "events", field = "cancelled" }
    users_prefs      = { collection = "users", field = "preferences" }
    users_google     = { collection = "users", field = "google" }
  }
}

resource "google_firestore_field" "unindexed" {
  for_each = local.unindexed_fields

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.value.collection
  field      = each.value.field

  index_config {}
}
