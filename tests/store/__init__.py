"""Storage: the Alembic migrations on both databases."""
