"""Reminders: rows with a due time, swept by one beat task."""
