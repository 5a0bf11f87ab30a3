"""LoRA Studio: the Reflex app, its HTTP routes and its domain modules."""
