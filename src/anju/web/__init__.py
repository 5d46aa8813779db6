"""The web layer shared by the API and the console: the app factory, dependencies and sign-in.

``app`` builds the one FastAPI application and mounts both (it sits above them); ``deps``
(context, session, token and role dependencies), ``signin``, ``session`` (the console's cookies)
and ``throttle`` sit below them, so neither ``anju.api`` nor ``anju.console`` imports the other.
"""
