"""Cases: the consumer's request, its status, its audit trail and access tokens."""
