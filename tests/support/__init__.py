"""Test helpers: real services (PostgreSQL, Redis) and the running app."""
