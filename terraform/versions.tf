terraform {
  # terraform_data and optional object attributes with defaults need 1.5+.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.20, < 8.0"
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
