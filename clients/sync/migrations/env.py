"""Alembic's environment for the mirror: `database.upgrade` hands it an open
connection (config.attributes["connection"]); there is no alembic.ini."""
from __future__ import annotations

from alembic import context

from sawgrid.clients.sync.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the mirror's migrations through sawgrid.clients.sync.database.upgrade()")

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
