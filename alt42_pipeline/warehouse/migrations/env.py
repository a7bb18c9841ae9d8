"""Alembic environment: run with a live connection and the table prefix passed in."""

from alembic import context

connection = context.config.attributes["connection"]
prefix = context.config.attributes.get("prefix", "")
context.configure(
    connection=connection,
    target_metadata=None,
    version_table=f"{prefix}alembic_version",
    transactional_ddl=connection.dialect.name != "mysql",
)
with context.begin_transaction():
    context.run_migrations()
