-- the library is a view of the uploads: where each came from (the folder a desktop import read it
-- from), listed newest first, and found by content (one copy per image).

ALTER TABLE uploads ADD COLUMN source_folder TEXT;
CREATE INDEX uploads_newest_first ON uploads (created_at DESC, key DESC);
CREATE INDEX uploads_by_content ON uploads (sha256);
