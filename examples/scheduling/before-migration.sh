#!/usr/bin/env bash
# Runs a migration with a labelled backup taken just before it, and puts the database back as it was if the
# migration fails:
#   examples/scheduling/before-migration.sh ./manage.py migrate
# DATABASE_URL names the database (keep its password in PGPASSWORD or ~/.pgpass, not in the URL); lifeboat.yml
# in the current folder, if any, names the targets. Pin the label so that retention keeps these backups:
#   retention: {daily: 7, pin: ["before-migration-*"]}
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the database the migration changes}"
label="before-migration-$(date -u +%Y%m%d%H%M%S)"
id=$(lifeboat backup --label "$label")
echo "before-migration: backup $id ($label) taken; running: $*" >&2
status=0
"$@" || status=$?
if [[ $status -eq 0 ]]; then
  echo "before-migration: the migration succeeded; backup $id stays as $label" >&2
  exit 0
fi
echo "before-migration: the migration failed (exit $status); restoring backup $id" >&2
# --clean replaces the database safely (a safety backup first, then a staging database swapped in);
# --force ends the application's sessions, which would otherwise keep the half-migrated database in use.
lifeboat restore "$id" --into "$DATABASE_URL" --clean --force
echo "before-migration: the database is back as it was before the migration (undo with: lifeboat rollback)" >&2
exit "$status"
