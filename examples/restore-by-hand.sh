#!/usr/bin/env bash
# Restores a Lifeboat backup folder with PostgreSQL's own tools (pg_restore, psql) and the zstd CLI, should
# Lifeboat ever be unavailable. Usage: restore-by-hand.sh BACKUP_FOLDER TARGET_DATABASE_URL   (target: empty)
set -euo pipefail
backup=$1 target=$2

# What the manifest says, one artifact per line: kind, stored name, SHA-256 of the stored bytes, and for table data
# the COPY target: "schema"."table" ("column", ...). (Table names with tabs or newlines need a hand-made COPY.)
artifacts=$(python3 - "$backup" <<'PY'
import json, os, sys
folder = sys.argv[1]
manifest = json.load(open(os.path.join(folder, "manifest.json")))
quote = lambda name: '"' + name.replace('"', '""') + '"'
# How this folder stores each artifact: the record of the first complete target whose files are all here with
# their sizes (format 1 kept it in the artifacts themselves).
def here(s):
    path = os.path.join(folder, s["name"])
    return os.path.isfile(path) and os.path.getsize(path) == s["stored_bytes"]
stored = manifest["artifacts"]
for target in manifest.get("targets", []):
    if target["status"] == "complete" and all(map(here, target["artifacts"])):
        stored = target["artifacts"]
        break
for a, s in zip(manifest["artifacts"], stored):
    table = "-"
    if a.get("table"):
        table = f"{quote(a['table']['schema'])}.{quote(a['table']['name'])}"
        if a.get("columns"):
            table += " (" + ", ".join(map(quote, a["columns"])) + ")"
    print(a["kind"], s["name"], s["sha256"], table, sep="\t")
PY
)
encoding=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["source"]["encoding"])' "$backup/manifest.json")

# Stored files are raw, or zstd frames when their name ends in .zst.
unpack() { case $1 in *.zst) zstd -dcq -- "$1" ;; *) cat -- "$1" ;; esac; }

# 0. Check every file against the manifest before touching the database.
while IFS=$'\t' read -r kind name sha table; do
  echo "$sha  $backup/$name"
done <<<"$artifacts" | sha256sum --check --quiet

# The schema archive, unpacked once: pg_restore reads it three times, one section each.
schema=$(mktemp)
trap 'rm -f "$schema"' EXIT
unpack "$backup/$(awk -F'\t' '$1 == "schema" {print $2}' <<<"$artifacts")" >"$schema"

# 1. Schema: types, tables, functions... (no indexes or constraints yet).
pg_restore --section=pre-data --exit-on-error --single-transaction -d "$target" "$schema"

# 2. Table data: one COPY file per table.
while IFS=$'\t' read -r kind name sha table; do
  [[ $kind == table-data ]] || continue
  unpack "$backup/$name" | PGOPTIONS="-c DateStyle=ISO -c IntervalStyle=postgres" PGCLIENTENCODING="$encoding" \
    psql -X -q -v ON_ERROR_STOP=1 -d "$target" -c "COPY $table FROM STDIN"
done <<<"$artifacts"

# 3. Sequence positions and large objects, then 4. indexes, constraints, triggers, materialized views.
pg_restore --section=data --exit-on-error --single-transaction -d "$target" "$schema"
pg_restore --section=post-data --exit-on-error --single-transaction -d "$target" "$schema"
