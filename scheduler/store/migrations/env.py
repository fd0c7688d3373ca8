"""Alembic environment: the project runs migrations itself (store.migrate), passing its connection."""

from alembic import context

from scheduler.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` command line: build an engine from the URL in the ini/-x option
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError

    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    if url is None:  # create_engine's own refusal of None, raised here so that url is a str below
        raise ArgumentError("Expected string or URL object, got None")
    with create_engine(url).connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
