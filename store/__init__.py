"""Postgres: pool, migrations and repositories (SQL constants, `$n` parameters)."""
