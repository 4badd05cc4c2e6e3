# shellcheck shell=bash
# Sourced by .ci/run: the npm packages of the design systems and every Node test harness, through
# the one script that installs them.
bash scripts/setup-node
