"""The Celery side: thin tasks that take ids and call casework's job functions."""
