-- What the portal last saw of each appointment in its PAS's change feed (nhs-portal-core
-- `PasFeedStore`): the PAS version it processed, with that version's status and start.
-- Instants are INTEGER microseconds since the Unix epoch (UTC).

CREATE TABLE pas_last_seen (
    appointment TEXT PRIMARY KEY NOT NULL,
    version     TEXT NOT NULL,
    status      TEXT NOT NULL,
    start_at    INTEGER,
    changed_at  INTEGER NOT NULL
);
