#!/usr/bin/env bash
# A Lifeboat target that stores backups with rclone (SFTP, B2, Google Drive, Dropbox, S3, ... see rclone.org).
# Speaks the Lifeboat exec protocol, version 1 (docs/plugins.md). In lifeboat.yml:
#   - name: offsite
#     url: exec:///opt/lifeboat/rclone-sink.sh
#     remote: "myremote:backups/app"    # reaches this script as LIFEBOAT_OPTION_REMOTE
# rclone takes its own settings from rclone.conf or RCLONE_CONFIG_* variables, never from the command line.
set -euo pipefail
root="${LIFEBOAT_OPTION_REMOTE:?set remote: in the target configuration}"
verb="$1" id="${2:-}" name="${3:-}"
dir="$root/$id"
absent=10
exists() { [[ -n "$(rclone lsf "$1" 2>/dev/null)" ]]; }
store() { # stdin -> $1, invisible until complete
  rclone rcat "$dir/.partial/$1"
  rclone moveto "$dir/.partial/$1" "$dir/$1"
}
case "$verb" in
  hello) echo "lifeboat-exec-protocol 1" ;;
  begin) rclone mkdir "$root"; exists "$dir" && exit $absent; echo "$$" | rclone rcat "$dir/.reserved" ;;
  put)
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; mkfifo "$work/copy"
    sha256sum <"$work/copy" >"$work/sum" & hasher=$!
    tee "$work/copy" | store "$name"; wait $hasher
    echo "$(rclone lsf --format s "$dir/$name") $(cut -c1-64 "$work/sum")" ;;
  get) exists "$dir/$name" || exit $absent; rclone cat "$dir/$name" ;;
  commit) store manifest.json ;;
  manifest) exists "$dir/manifest.json" || exit $absent; rclone cat "$dir/manifest.json" ;;
  list) rclone mkdir "$root"; rclone lsf --files-only --max-depth 2 --include "/*/manifest.json" "$root" | cut -d/ -f1 ;;
  delete|abort)
    if ! exists "$dir/manifest.json"; then [[ $verb == abort ]] || exit $absent
    else rclone deletefile "$dir/manifest.json"; fi
    ! exists "$dir" || rclone purge "$dir" ;;
  *) echo "unknown verb $verb" >&2; exit 2 ;;
esac
