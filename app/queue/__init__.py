"""Queue adapters: the embedded thread queue (default) and Celery (scale-out)."""
