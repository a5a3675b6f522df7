-- Only a claimed job has a lease that can end: the index of lease ends leaves the others out,
-- so a dispatch (a job without one) writes one index entry fewer — on a farm, one per job.
DROP INDEX jobs_by_lease_end;
CREATE INDEX jobs_by_lease_end ON jobs (status, lease_expires_ms) WHERE lease_expires_ms IS NOT NULL;
