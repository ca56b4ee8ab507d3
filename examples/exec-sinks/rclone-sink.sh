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
dir="$root/$id" absent=10
work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
lsf() { rclone lsf "$@" 2>"$work/err"; }
found() { # $1: an exit code of lsf. True: found; false: not found (rclone's 3 or 4); anything else ends the script
  case $1 in 0) return 0 ;; 3|4) return 1 ;; *) cat "$work/err" >&2; exit 1 ;; esac
}
exists() { local out rc=0; out=$(lsf "$1") || rc=$?; found $rc && [[ -n $out ]]; }
receive() { # stdin -> $dir/$1, visible only once complete; prints the size stored and the SHA-256 received
  mkfifo "$work/copy"; sha256sum <"$work/copy" >"$work/sum" & local hasher=$!
  tee "$work/copy" | rclone rcat "$dir/.partial/$1"; wait $hasher
  rclone moveto "$dir/.partial/$1" "$dir/$1"
  echo "$(rclone lsf --format s "$dir/$1") $(cut -c1-64 "$work/sum")"
}
case "$verb" in
  hello) echo "lifeboat-exec-protocol 1" ;;
  begin) ! exists "$dir" || exit $absent; echo "$$" | rclone rcat "$dir/.reserved" ;;
  put) receive "$name" ;;
  commit) receive manifest.json ;;
  get|manifest) file="${name:-manifest.json}"; exists "$dir/$file" || exit $absent; rclone cat "$dir/$file" ;;
  list)
    rc=0; out=$(lsf --files-only --max-depth 2 --include "/*/manifest.json" "$root") || rc=$?
    if found $rc && [[ -n $out ]]; then cut -d/ -f1 <<<"$out"; fi ;;
  delete|abort)
    if exists "$dir/manifest.json"; then rclone deletefile "$dir/manifest.json"
    elif [[ $verb == delete ]]; then exit $absent; fi
    ! exists "$dir" || rclone purge "$dir" ;;
  *) echo "unknown verb $verb" >&2; exit 2 ;;
esac
