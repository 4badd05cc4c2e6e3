# Sourced by .ci/run: npm packages for the design systems and the Node test harnesses.
bash scripts/setup-node
