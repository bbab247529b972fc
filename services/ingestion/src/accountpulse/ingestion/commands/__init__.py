"""What each REST write of ingestion does, inside the request's unit of work.

A write locks the account row first (or bumps its version, which locks it), changes what it
changes, and stages its events with ``uow.publish`` in the same transaction; the relay
publishes them after the commit. Rules that need no database live in ``domain``.
"""
