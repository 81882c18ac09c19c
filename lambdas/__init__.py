"""Lambda handlers that are not web requests. They reuse the services, never Flask."""
