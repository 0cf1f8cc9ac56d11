"""Example contexts of every document (generate.py writes the JSON beside it)."""
