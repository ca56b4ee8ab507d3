#!/usr/bin/env bash
# Restores a Lifeboat backup folder with PostgreSQL's own tools only (pg_restore, psql), should Lifeboat ever be
# unavailable. Usage: restore-by-hand.sh BACKUP_FOLDER TARGET_DATABASE_URL   (the target must be empty)
set -euo pipefail
backup=$1 target=$2
encoding=$(sed -n 's/.*"encoding" : "\(.*\)".*/\1/p' "$backup/manifest.json")

# 0. Check every file against the manifest (sha256sum prints "OK" per file).
python3 - "$backup" <<'PY'
import hashlib, json, sys
folder = sys.argv[1]
for artifact in json.load(open(f"{folder}/manifest.json"))["artifacts"]:
    digest = hashlib.sha256(open(f"{folder}/{artifact['name']}", "rb").read()).hexdigest()
    if digest != artifact["sha256"]:
        sys.exit(f"{artifact['name']}: checksum mismatch")
PY

# 1. Schema: types, tables, functions... (no indexes or constraints yet).
pg_restore --section=pre-data --exit-on-error --single-transaction -d "$target" "$backup/schema.pgdump"

# 2. Table data: one COPY file per table; the manifest maps each file to its table.
python3 - "$backup" <<'PY' | while IFS=$'\t' read -r table file; do
import json, sys
folder = sys.argv[1]
quote = lambda name: '"' + name.replace('"', '""') + '"'
for artifact in json.load(open(f"{folder}/manifest.json"))["artifacts"]:
    if artifact["kind"] == "table-data":
        t = artifact["table"]
        print(f"{quote(t['schema'])}.{quote(t['name'])}\t{folder}/{artifact['name']}")
PY
  PGOPTIONS="-c DateStyle=ISO -c IntervalStyle=postgres" PGCLIENTENCODING="$encoding" \
    psql -X -q -v ON_ERROR_STOP=1 -d "$target" -c "COPY $table FROM STDIN" <"$file"
done

# 3. Sequence positions and large objects, then 4. indexes, constraints, triggers, materialized views.
pg_restore --section=data --exit-on-error --single-transaction -d "$target" "$backup/schema.pgdump"
pg_restore --section=post-data --exit-on-error --single-transaction -d "$target" "$backup/schema.pgdump"
