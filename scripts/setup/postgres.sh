# shellcheck shell=bash
# PostgreSQL for the store tests. Sourced by .ci/run (as root); idempotent.
#
# Installs the Debian PostgreSQL server if missing, starts the newest cluster on
# 127.0.0.1:5432, sets the `postgres` user's password, creates the database `nhs_portal_test`
# if absent and exports NHS_PORTAL_TEST_PG_URL for the tests (each test makes its own schema).

_nhs_portal_setup_postgres() {
    local url="postgres://postgres:postgres@127.0.0.1:5432/nhs_portal_test"
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! compgen -G "/etc/postgresql/*/main" >/dev/null; then
        echo "setup/postgres: installing postgresql" >&2
        apt-get update -qq || return 1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || return 1
    fi
    local ver
    ver=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1)
    if [ -z "$ver" ]; then
        echo "setup/postgres: no cluster under /etc/postgresql" >&2
        return 1
    fi
    if ! pg_ctlcluster "$ver" main status >/dev/null 2>&1; then
        pg_ctlcluster "$ver" main start || return 1
    fi
    local i
    for i in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 1
    done
    pg_isready -q -h 127.0.0.1 -p 5432 || { echo "setup/postgres: server not ready" >&2; return 1; }
    runuser -u postgres -- psql -q -X -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null || return 1
    local exists
    exists=$(runuser -u postgres -- psql -X -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'nhs_portal_test'") || return 1
    if [ "$exists" != "1" ]; then
        runuser -u postgres -- createdb nhs_portal_test || return 1
    fi
    export NHS_PORTAL_TEST_PG_URL="$url"
    echo "setup/postgres: PostgreSQL $ver ready, NHS_PORTAL_TEST_PG_URL exported" >&2
}

_nhs_portal_setup_postgres || echo "setup/postgres: FAILED (PostgreSQL tests will fail in CI)" >&2
unset -f _nhs_portal_setup_postgres
