-- A request its owner deleted (OpenAI's `DELETE /v1/videos/{id}`): from then on it does not
-- exist for its key (reads, lists, cancel), while the row stays for the workers that may still
-- be ending it and for the ledger that accounts for it.
ALTER TABLE tasks ADD COLUMN forgotten_at BIGINT;
