"""Pure-Python routing engine."""
