-- 002_notes_updated.sql -- when a note last changed, and the index a user's page of notes (newest first) reads.
ALTER TABLE notes ADD COLUMN updated timestamptz NOT NULL DEFAULT now();
UPDATE notes SET updated = created;
CREATE INDEX notes_user_id ON notes (user_id, id DESC);
