"""Activities: every effect of a workflow, idempotent, as methods of classes built with their
dependencies (the asyncpg pool, settings)."""
