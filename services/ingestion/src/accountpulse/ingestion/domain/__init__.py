"""Ingestion's rules that need no database: money conversion, name normalisation, and the
checks a write must pass before it touches anything. Pure: no I/O, no framework imports."""
