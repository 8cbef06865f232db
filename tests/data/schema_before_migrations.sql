-- The job database exactly as the last release before Alembic migrations created it (SQLite DDL of its
-- create_all), kept to test that an upgrade adopts such a database with its rows.
CREATE TABLE jobs (
	id VARCHAR(32) NOT NULL, 
	owner VARCHAR(64), 
	status VARCHAR(16) NOT NULL, 
	model VARCHAR(512) NOT NULL, 
	options JSON NOT NULL, 
	input_name VARCHAR(255) NOT NULL, 
	input_path TEXT, 
	result_path TEXT, 
	media JSON NOT NULL, 
	frames_done INTEGER NOT NULL, 
	frames_total INTEGER, 
	fps DOUBLE, 
	eta_seconds DOUBLE, 
	created_at DATETIME NOT NULL, 
	started_at DATETIME, 
	finished_at DATETIME, 
	heartbeat_at DATETIME, 
	error JSON, 
	worker VARCHAR(255), 
	attempts INTEGER NOT NULL, 
	claim VARCHAR(32), 
	webhook_url TEXT, 
	files_removed BOOLEAN NOT NULL, 
	segment_count INTEGER, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_jobs_created_at ON jobs (created_at);
CREATE INDEX ix_jobs_owner ON jobs (owner);
CREATE INDEX ix_jobs_status ON jobs (status);
CREATE TABLE segments (
	job_id VARCHAR(32) NOT NULL, 
	"index" INTEGER NOT NULL, 
	start_pts BIGINT NOT NULL, 
	end_pts BIGINT, 
	frames_total INTEGER NOT NULL, 
	frames_done INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	claim VARCHAR(32), 
	worker VARCHAR(255), 
	attempts INTEGER NOT NULL, 
	heartbeat_at DATETIME, 
	path TEXT, 
	PRIMARY KEY (job_id, "index")
);
CREATE TABLE workers (
	name VARCHAR(255) NOT NULL, 
	queue VARCHAR(16) NOT NULL, 
	started_at DATETIME NOT NULL, 
	heartbeat_at DATETIME NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE webhook_deliveries (
	job_id VARCHAR(32) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	lease_until FLOAT NOT NULL, 
	last_error TEXT, 
	PRIMARY KEY (job_id)
);
CREATE TABLE rate_limit_hits (
	id INTEGER NOT NULL, 
	"key" VARCHAR(255) NOT NULL, 
	at FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_rate_limit_hits_key_at ON rate_limit_hits ("key", at);
CREATE TABLE rate_limits (
	"key" VARCHAR(255) NOT NULL, 
	count INTEGER NOT NULL, 
	expires_at FLOAT NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE INDEX ix_rate_limits_expires_at ON rate_limits (expires_at);
