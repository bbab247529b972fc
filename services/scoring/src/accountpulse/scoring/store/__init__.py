"""Every SQL statement of scoring (schema ``scoring``), one module per part of it: the account
projection and its facts, snapshots, model versions, rescore runs, and the portfolio."""

SCHEMA = "scoring"
