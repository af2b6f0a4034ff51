#!/bin/sh
# Temporal's two schemas (persistence and visibility) on the Postgres server, with the
# admin-tools image's temporal-sql-tool. Safe to run again and again: an existing database
# is kept, `setup-schema -v 0.0` leaves a versioned schema alone, and `update-schema`
# applies only the versions not yet applied — which is also how a Temporal upgrade
# migrates: bump the image tags, run this again before the server starts.
# Connection: SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD (temporal-sql-tool's
# own variables).
set -eu

schemas=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  temporal-sql-tool --db "$db" create-database
done
temporal-sql-tool --db temporal setup-schema -v 0.0
temporal-sql-tool --db temporal update-schema -d "$schemas/temporal/versioned"
temporal-sql-tool --db temporal_visibility setup-schema -v 0.0
temporal-sql-tool --db temporal_visibility update-schema -d "$schemas/visibility/versioned"
echo "schémas Temporal à jour"
