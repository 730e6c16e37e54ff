-- 001_sessions.sql -- logins: one row per session, keyed by the SHA-256 of its cookie's token.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    expires timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires);
