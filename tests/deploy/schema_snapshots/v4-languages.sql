-- Errand's database as the last release before Alembic (schema version 4, languages) left
-- it: tables from its schema steps, with rows. Never edit: add a new snapshot per release.
BEGIN TRANSACTION;
CREATE TABLE chat_migrations (
	old_chat_id BIGINT NOT NULL, 
	new_chat_id BIGINT NOT NULL, 
	migrated_at FLOAT NOT NULL, 
	PRIMARY KEY (old_chat_id)
);
INSERT INTO "chat_migrations" VALUES(-555,-100123,1764300000.0);
CREATE TABLE download_jobs (
	id INTEGER NOT NULL, 
	chat_id BIGINT NOT NULL, 
	thread_id BIGINT, 
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
	lang VARCHAR(16), 
	PRIMARY KEY (id)
);
INSERT INTO "download_jobs" VALUES(1,42,NULL,42,'Ann',10,11,'https://example.org/files/report.pdf',NULL,'report.pdf','Zm9sZGVyLW9uZQ','done',1048576,1048576,'abababababababababababababababababababababababababababababababab',NULL,1,0,1764320000.0,1764320001.0,1764320009.0,8.0,'zh');
INSERT INTO "download_jobs" VALUES(2,-100999,3,44,'Cy',NULL,NULL,'https://example.org/big.iso',NULL,NULL,'Zm9sZGVyLXR3bw','cancelled',NULL,0,NULL,NULL,0,0,1764321000.0,NULL,NULL,NULL,NULL);
CREATE TABLE gone_chats (
	chat_id BIGINT NOT NULL, 
	reason VARCHAR(16) NOT NULL, 
	since FLOAT NOT NULL, 
	PRIMARY KEY (chat_id)
);
INSERT INTO "gone_chats" VALUES(-100999,'removed',1764325000.0);
CREATE TABLE language_choices (
	scope VARCHAR(8) NOT NULL, 
	ident BIGINT NOT NULL, 
	code VARCHAR(16) NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (scope, ident)
);
INSERT INTO "language_choices" VALUES('person',43,'zh',1764320000.0);
INSERT INTO "language_choices" VALUES('chat',-100123,'en',1764320001.0);
CREATE TABLE paused_downloads (
	job_id INTEGER NOT NULL, 
	chat_id BIGINT NOT NULL, 
	PRIMARY KEY (job_id)
);
INSERT INTO "paused_downloads" VALUES(2,-100999);
CREATE TABLE received_requests (
	request_id BIGINT NOT NULL, 
	payload TEXT, 
	received_at FLOAT NOT NULL, 
	handled_at FLOAT, 
	PRIMARY KEY (request_id)
);
INSERT INTO "received_requests" VALUES(900001,NULL,1764320000.0,1764320000.5);
INSERT INTO "received_requests" VALUES(900002,'{"update_id": 900002}',1764320001.0,NULL);
CREATE TABLE reminders (
	id INTEGER NOT NULL, 
	kind VARCHAR(8) NOT NULL, 
	chat_id BIGINT NOT NULL, 
	chat_type VARCHAR(16) NOT NULL, 
	thread_id BIGINT, 
	user_id BIGINT NOT NULL, 
	user_name VARCHAR(64) NOT NULL, 
	label VARCHAR(200) NOT NULL, 
	due_at FLOAT NOT NULL, 
	recurrence VARCHAR(160), 
	tz VARCHAR(64) NOT NULL, 
	reply_to BIGINT, 
	status_message_id BIGINT, 
	duration FLOAT, 
	state VARCHAR(12) NOT NULL, 
	created_at FLOAT NOT NULL, 
	lang VARCHAR(16), 
	PRIMARY KEY (id)
);
INSERT INTO "reminders" VALUES(1,'timer',42,'private',NULL,42,'Ann','tea',1764320100.0,NULL,'UTC',NULL,NULL,100.0,'done',1764320000.0,NULL);
INSERT INTO "reminders" VALUES(2,'reminder',-100123,'supergroup',7,43,'Bob','standup',1764406800.0,'week mon,wed,fri 09:00','Europe/Berlin',55,56,NULL,'pending',1764320500.0,'zh');
INSERT INTO "reminders" VALUES(3,'timer',-100999,'group',NULL,44,'Cy','oven',1764330000.0,NULL,'UTC',NULL,NULL,NULL,'undeliverable',1764320600.0,NULL);
CREATE TABLE schema_version (
	version INTEGER NOT NULL, 
	upgraded_at VARCHAR(32) NOT NULL
);
INSERT INTO "schema_version" VALUES(4,'2026-11-29T20:13:23+00:00');
CREATE TABLE user_zones (
	user_id BIGINT NOT NULL, 
	tz VARCHAR(64) NOT NULL, 
	PRIMARY KEY (user_id)
);
INSERT INTO "user_zones" VALUES(43,'Europe/Berlin');
CREATE INDEX ix_chat_migrations_new_chat_id ON chat_migrations (new_chat_id);
CREATE INDEX ix_paused_downloads_chat_id ON paused_downloads (chat_id);
CREATE INDEX ix_download_jobs_user_id ON download_jobs (user_id);
CREATE INDEX ix_download_jobs_chat_id ON download_jobs (chat_id);
CREATE INDEX ix_download_jobs_state ON download_jobs (state);
CREATE INDEX ix_received_requests_handled_at ON received_requests (handled_at);
CREATE INDEX ix_reminders_state_due ON reminders (state, due_at);
CREATE INDEX ix_reminders_user_state ON reminders (user_id, state);
CREATE INDEX ix_reminders_chat_state ON reminders (chat_id, state);
COMMIT;
