"""UI pieces shared by the pages, and the wrapper around the in-browser engine."""
