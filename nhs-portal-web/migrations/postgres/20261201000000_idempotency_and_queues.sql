-- Idempotency records of real-time actions (cancel or reschedule done straight in the PAS), and
-- the Record Service queue brought in line with the outbox so one leased-queue implementation
-- serves both. Instants are TIMESTAMPTZ (microseconds).

CREATE TABLE idempotency_records (
    idempotency_key TEXT PRIMARY KEY,
    patient         TEXT NOT NULL,
    appointment     TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('cancel', 'reschedule')),
    -- The outcome: a reschedule keeps the appointment as now booked and its start.
    new_appointment TEXT,
    new_start       TIMESTAMPTZ,
    at              TIMESTAMPTZ NOT NULL,
    CHECK ((action = 'cancel' AND new_appointment IS NULL AND new_start IS NULL)
        OR (action = 'reschedule' AND new_appointment IS NOT NULL AND new_start IS NOT NULL))
);

ALTER TABLE record_queue ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE record_queue ADD COLUMN last_error TEXT;
