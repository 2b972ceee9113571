-- The audit log: who did what, when, with what outcome. `id` is microseconds since the
-- epoch, made strictly increasing by Luna, so it orders entries and pages through them.
CREATE TABLE audit_log (
    id          BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    principal   TEXT NOT NULL,
    client      TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT,
    duration_ms BIGINT
);
CREATE INDEX audit_log_by_action ON audit_log (action);
CREATE INDEX audit_log_by_at ON audit_log (at);
