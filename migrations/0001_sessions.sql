-- Login sessions. The browser holds the session id (encrypted in a cookie); only its
-- SHA-256 is stored here, so a copy of the database does not hand out sessions.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    login        TEXT NOT NULL,
    name         TEXT,
    avatar_url   TEXT,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    user_agent   TEXT,
    ip           TEXT
);
CREATE INDEX sessions_by_login ON sessions (login);
