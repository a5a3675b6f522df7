-- jobs keep their typed request with the version of its form, so a job stored by an older studio
-- is upgraded or failed cleanly, never misread. Dead storage goes: the `artifacts` table was only
-- read to number itself (artifacts live in their events), and the jobs' error columns were never
-- read (the error is the `failed` event's).

ALTER TABLE jobs ADD COLUMN request_version INTEGER NOT NULL DEFAULT 1;
DROP TABLE artifacts;
ALTER TABLE jobs DROP COLUMN error_code;
ALTER TABLE jobs DROP COLUMN error_message;
