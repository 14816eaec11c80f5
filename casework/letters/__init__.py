"""Letters: write-once PDFs rendered by the worker, with the evidence that made them."""
