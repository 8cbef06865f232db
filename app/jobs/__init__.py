"""The application layer for jobs: the job table, its store, and running a claimed job."""
