"""Alembic environment: runs on the connection the journal hands over (pipeline.journal.migrate)."""

from alembic import context

from pipeline.journal import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` on the command line: -x url=sqlite:///var/journal.sqlite
    from sqlalchemy import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///var/journal.sqlite")
    connection = create_engine(url).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
