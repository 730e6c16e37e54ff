-- sql/schema.sql -- the notes example's first schema: users and their notes, and the table that records which migrations (sql/migrations/NNN_*.sql) were applied.
--
-- init/init.py loads this into an empty database (or schema), then applies
-- every migration not yet recorded in schema_migrations, in number order.

CREATE TABLE schema_migrations (
    version integer PRIMARY KEY,
    applied timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 63),
    -- crypt(3) output: $y$ (yescrypt), $6$, $2b$ ...
    password_hash text NOT NULL,
    role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'))
);

CREATE TABLE notes (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    title text NOT NULL,
    body text NOT NULL DEFAULT '',
    created timestamptz NOT NULL DEFAULT now()
);
