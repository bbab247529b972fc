"""Every SQL statement of notification (schema ``notification``), one module per kind of row:
``alerts`` (the inbox and an alert's lifecycle), ``rules`` (a tenant's alert rules),
``raising`` (the hot path of raising an alert), ``facts`` (the projections the rules read),
``recipients`` (who is reached where) and ``deliveries`` (email and webhook, with their log).

Functions that work in one tenant take the :class:`~accountpulse.common.uow.UnitOfWork`; the
few that sweep every tenant for the jobs take a system-scope session.
"""

SCHEMA = "notification"
