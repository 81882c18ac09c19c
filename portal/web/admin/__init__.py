"""HR administration pages (all under /admin, all behind sign-in)."""
