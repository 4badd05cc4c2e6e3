#!/usr/bin/env bash
# Installs the Medplum FHIR test peer used by nhs-portal-pas/tests/fhir_medplum.rs
# (npm @medplum/fhir-router 4.5.2, pinned by package-lock.json). Idempotent; sourced by .ci/run.
(
  set -euo pipefail
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/node/medplum"
  cd "$dir"
  if [ -d node_modules/@medplum/fhir-router ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    exit 0
  fi
  npm ci --no-audit --no-fund
)
