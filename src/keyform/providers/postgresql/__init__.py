"""The PostgreSQL provider: login roles, group roles, memberships and grants, with passwords keyform makes.

- `kinds`: the two kinds, their schema and canonical form (grants as `on:object:PRIVILEGE` strings);
- `scram`: SCRAM-SHA-256 verifiers computed client-side (the password never reaches the server);
- `catalog`: the whole live state in a fixed handful of catalog queries;
- `statements`: the SQL of each change; `provider`: read, apply, risks, invariants; `verify`: `keyform verify`.
- `overlap`: login roles rotated with overlap (a group and two logins used alternately); `overlap_sql`: their SQL.

psycopg is an optional dependency: `pip install 'keyform[postgresql]'`. Importing this package does
not import it (the kinds, the schema and `keyform validate` work without it).
"""

from keyform.providers.postgresql.provider import PostgresqlProvider

__all__ = ["PostgresqlProvider"]
