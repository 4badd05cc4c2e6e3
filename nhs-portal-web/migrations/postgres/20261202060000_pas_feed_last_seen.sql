-- What the portal last saw of each appointment in its PAS's change feed (nhs-portal-core
-- `PasFeedStore`): the PAS version it processed, with that version's status and start.
-- Instants are TIMESTAMPTZ (microseconds).

CREATE TABLE pas_last_seen (
    appointment TEXT PRIMARY KEY,
    version     TEXT NOT NULL,
    status      TEXT NOT NULL,
    start_at    TIMESTAMPTZ,
    changed_at  TIMESTAMPTZ NOT NULL
);
