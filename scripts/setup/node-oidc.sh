#!/usr/bin/env bash
# Installs the oidc-provider interop harness (tests/node/oidc-provider) from its lock file with
# `npm ci`. Idempotent: skips the install while node_modules is newer than the lock file.
# Sourced by .ci/run, so it neither exits nor changes shell options.
_node_oidc_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/node/oidc-provider"
if [ ! -f "$_node_oidc_dir/node_modules/.package-lock.json" ] \
  || [ "$_node_oidc_dir/package-lock.json" -nt "$_node_oidc_dir/node_modules/.package-lock.json" ]; then
  (cd "$_node_oidc_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
unset _node_oidc_dir
