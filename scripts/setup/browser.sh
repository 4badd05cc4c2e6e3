# shellcheck shell=bash
# Sourced by .ci/run: headless Chromium for the browser tests (their npm packages come from
# scripts/setup-node, through scripts/setup/node.sh).
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
