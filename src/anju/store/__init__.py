"""Storage: tables, engines and sessions."""
