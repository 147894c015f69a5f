-- Errand's database as the first release (before schema versions) left it: the tables
-- of Base.metadata.create_all at that time, with rows. Never edit: add a new snapshot per release.
BEGIN TRANSACTION;
CREATE TABLE download_jobs (
	id INTEGER NOT NULL, 
	chat_id BIGINT NOT NULL, 
	user_id BIGINT NOT NULL, 
	user_name VARCHAR(128) NOT NULL, 
	request_message_id INTEGER, 
	status_message_id INTEGER, 
	url TEXT NOT NULL, 
	requested_name VARCHAR(255), 
	name VARCHAR(255), 
	folder VARCHAR(64) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	size BIGINT, 
	done_bytes BIGINT NOT NULL, 
	sha256 VARCHAR(64), 
	error TEXT, 
	delivered BOOLEAN NOT NULL, 
	resumed BOOLEAN NOT NULL, 
	created_at FLOAT NOT NULL, 
	started_at FLOAT, 
	finished_at FLOAT, 
	elapsed FLOAT, 
	PRIMARY KEY (id)
);
INSERT INTO "download_jobs" VALUES(1,42,42,'Ann',10,11,'https://example.org/files/report.pdf',NULL,'report.pdf','Qm9vdHN0cmFw','done',1048576,1048576,'9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',NULL,1,0,1764320000.0,1764320001.5,1764320009.0,7.5);
INSERT INTO "download_jobs" VALUES(2,-100123,43,'Bob',20,21,'https://example.org/big.iso','ubuntu.iso','ubuntu.iso','c2Vjb25kLWZvbGRlcg','running',4294967296,1073741824,NULL,NULL,0,1,1764321000.0,1764321002.0,NULL,NULL);
INSERT INTO "download_jobs" VALUES(3,42,42,'Ann',30,NULL,'https://example.org/later.zip',NULL,NULL,'dGhpcmQtZm9sZGVy','queued',NULL,0,NULL,NULL,0,0,1764322000.0,NULL,NULL,NULL);
CREATE INDEX ix_download_jobs_chat_id ON download_jobs (chat_id);
CREATE INDEX ix_download_jobs_state ON download_jobs (state);
CREATE INDEX ix_download_jobs_user_id ON download_jobs (user_id);
COMMIT;
