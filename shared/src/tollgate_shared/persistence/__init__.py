"""PostgreSQL through SQLAlchemy and psycopg: engines, units of work, migrations, keyset pages
and coalesced hot reads."""
