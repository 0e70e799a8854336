#!/usr/bin/env bash
# Offline checks of the Terraform deployment (the google provider cannot be downloaded here, so
# no init/validate/plan): formatting, then checkov. Exits non-zero on any failure.
# checkov pins old packages, so it lives in its own virtualenv under .tools/checkov.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION=3.3.30
CHECKOV_VENV=.tools/checkov
PYTHON=${PYTHON:-python3}

if [ ! -f "$CHECKOV_VENV/.installed-$CHECKOV_VERSION" ]; then
  rm -rf "$CHECKOV_VENV"
  "$PYTHON" -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  touch "$CHECKOV_VENV/.installed-$CHECKOV_VERSION"
fi

echo "terraform fmt -check -recursive terraform"
terraform fmt -check -recursive terraform

echo "checkov $CHECKOV_VERSION"
# Every skip is a #checkov:skip=CKV_...:reason comment next to its resource.
"$CHECKOV_VENV/bin/checkov" -d terraform --quiet --compact --framework terraform --skip-download
