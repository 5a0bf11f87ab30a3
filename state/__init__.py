"""Reflex state classes: thin, they hold what a page shows and call the domain modules."""
