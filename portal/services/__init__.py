"""Use cases: each function takes the store as its first argument and speaks domain objects."""
