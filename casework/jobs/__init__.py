"""Background work as rows: claiming, after-commit dispatch and the relay that re-dispatches."""
