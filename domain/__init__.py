"""Relais domain: pydantic models, enums and pure rules. No I/O here."""
