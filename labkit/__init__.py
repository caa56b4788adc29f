"""labkit: helpers for the securing-ML course."""
