"""Staff: caseworker and supervisor accounts."""
