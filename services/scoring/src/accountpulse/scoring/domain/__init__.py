"""Scoring's pure domain: formulas, scores, materiality. No I/O, no framework imports."""
