"""Evidence a consumer can show a bank or a regulator: the public letter check and the case's pack."""
