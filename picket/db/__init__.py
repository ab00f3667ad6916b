"""Database schema and access: SQLAlchemy models, engine, and plain query functions."""
