"""Signing HR in and out, and guarding the admin pages."""
