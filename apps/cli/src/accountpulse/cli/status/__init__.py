"""``accountpulse status``: one screen of what an on-call operator looks at first."""
