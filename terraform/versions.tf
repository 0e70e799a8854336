terraform {
  # terraform_data and optional object attributes with defaults need 1.5+.
  required_version = ">= 1.5"

  # State in a GCS bucket created before the first init (README "State backend"); the bucket is
  # given at init: terraform init -backend-config="bucket=<project>-tfstate".
  backend "gcs" {
    prefix = "uplus-groupware-google"
  }

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50.0" # the schema tests/terraform checks against (@cdktf/provider-google 16.12.1)
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = merge(var.labels, { app = "uplus-groupware-google" })
}

data "google_project" "this" {
  project_id = var.project_id
}
