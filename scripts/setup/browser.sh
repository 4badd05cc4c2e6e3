# Sourced by .ci/run: headless Chromium for the browser tests, and their npm packages.
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/node/browser" && npm ci --no-audit --no-fund --loglevel=error)
