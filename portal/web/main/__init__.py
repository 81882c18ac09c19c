"""Public pages that belong to no feature: the front page and the health check."""
