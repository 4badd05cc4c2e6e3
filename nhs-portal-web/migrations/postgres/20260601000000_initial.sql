-- nhs-portal store, PostgreSQL dialect. Instants are TIMESTAMPTZ (microseconds).

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    reporting_id    TEXT NOT NULL,
    patient         TEXT NOT NULL,
    date_of_birth   DATE,
    display_name    TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,
    absolute_expiry TIMESTAMPTZ NOT NULL,
    in_nhs_app      BOOLEAN NOT NULL,
    tracking_id     TEXT,
    csrf_token      TEXT NOT NULL
);
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);
CREATE INDEX sessions_absolute_expiry ON sessions (absolute_expiry);

CREATE TABLE pending_logins (
    state         TEXT PRIMARY KEY,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT,
    return_to     TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    in_nhs_app    BOOLEAN NOT NULL,
    tracking_id   TEXT,
    sso           BOOLEAN NOT NULL
);

CREATE TABLE requests (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              UUID NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    appointment     TEXT NOT NULL,
    patient         TEXT NOT NULL,
    ods_code        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('cancel', 'reschedule')),
    reason          TEXT NOT NULL,
    details         TEXT,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'fulfilled', 'rejected')),
    created_at      TIMESTAMPTZ NOT NULL,
    resolved_at     TIMESTAMPTZ,
    resolution_note TEXT
);
-- At most one pending request per appointment, across every portal instance.
CREATE UNIQUE INDEX requests_one_pending_per_appointment ON requests (appointment)
    WHERE state = 'pending';
CREATE INDEX requests_pending_by_patient ON requests (patient) WHERE state = 'pending';
CREATE INDEX requests_worklist ON requests (ods_code, state, created_at);
CREATE INDEX requests_created_at ON requests (created_at);

CREATE TABLE audit (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    patient     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    session     TEXT,
    action      TEXT NOT NULL,
    appointment TEXT,
    detail      TEXT
);
CREATE INDEX audit_by_patient ON audit (patient, at DESC, seq DESC);

CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_code   TEXT NOT NULL,
    event        JSONB NOT NULL,
    event_at     TIMESTAMPTZ NOT NULL,
    state        TEXT NOT NULL DEFAULT 'waiting'
                 CHECK (state IN ('waiting', 'delivered', 'quarantined')),
    attempts     BIGINT NOT NULL DEFAULT 0,
    due_at       TIMESTAMPTZ,
    leased_until TIMESTAMPTZ,
    lease_owner  TEXT,
    last_error   TEXT
);
CREATE INDEX outbox_waiting ON outbox (id) WHERE state = 'waiting';

CREATE TABLE record_queue (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient      TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'sent')),
    due_at       TIMESTAMPTZ,
    leased_until TIMESTAMPTZ,
    lease_owner  TEXT
);
-- An NHS number waits in the queue at most once.
CREATE UNIQUE INDEX record_queue_one_waiting ON record_queue (patient) WHERE state = 'waiting';
CREATE INDEX record_queue_sent ON record_queue (patient) WHERE state = 'sent';
