#!/usr/bin/env python3
"""A Lifeboat target that stores each distinct artifact once: tables that did not change since the last backup
cost no space. For a NAS or a second disk. Speaks the Lifeboat exec protocol, version 1 (docs/plugins.md).

In lifeboat.yml:
  - name: nas
    url: exec:///opt/lifeboat/dedup-sink.py
    path: /mnt/nas/lifeboat        # reaches this program as LIFEBOAT_OPTION_PATH

Layout: objects/<sha256> holds contents; backups/<id>/refs/<artifact> names the object; backups/<id>/manifest.json,
written last, makes a backup complete. Deleting a backup drops the objects no other backup uses.
"""
import contextlib, fcntl, hashlib, os, shutil, sys, tempfile, time

ABSENT = 10
ROOT = os.environ.get("LIFEBOAT_OPTION_PATH") or sys.exit("set path: in the target's configuration")
BACKUPS, OBJECTS = os.path.join(ROOT, "backups"), os.path.join(ROOT, "objects")


def sync_folder(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_folders(path):
    """Creates path and its missing parents, each made durable in its parent."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        sync_folder(os.path.dirname(folder))


def write_atomically(path, chunks):
    """Writes chunks to a temporary file beside path, fsyncs it and renames it into place; returns (size, sha256)."""
    make_folders(os.path.dirname(path))
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), prefix=".partial-", delete=False) as out:
        try:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            os.unlink(out.name)
            raise
    os.rename(out.name, path)
    sync_folder(os.path.dirname(path))
    return size, digest.hexdigest()


def stdin_chunks():
    while chunk := sys.stdin.buffer.read(1 << 20):
        yield chunk


@contextlib.contextmanager
def store_lock():
    """Serialises the steps that add or drop objects, so that a delete never drops an object a put just reused."""
    make_folders(ROOT)
    with open(os.path.join(ROOT, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def backup(id_):
    return os.path.join(BACKUPS, id_)


def manifest_path(id_):
    return os.path.join(backup(id_), "manifest.json")


def put(id_, name):
    staged = os.path.join(OBJECTS, ".incoming", f"{os.getpid()}")
    size, sha = write_atomically(staged, stdin_chunks())
    with store_lock():
        if not os.path.isdir(backup(id_)):  # aborted meanwhile: recreating it would leave the id looking taken
            os.unlink(staged)
            sys.exit(f"backup {id_} was aborted while this artifact was being written")
        obj = os.path.join(OBJECTS, sha)
        if os.path.exists(obj):
            os.unlink(staged)
        else:
            os.rename(staged, obj)
            sync_folder(OBJECTS)
        write_atomically(os.path.join(backup(id_), "refs", name), [sha.encode()])
    print(size, sha)


def get(id_, name):
    try:
        with open(os.path.join(backup(id_), "refs", name)) as ref:
            sha = ref.read().strip()
    except FileNotFoundError:
        sys.exit(ABSENT)
    with open(os.path.join(OBJECTS, sha), "rb") as obj:
        shutil.copyfileobj(obj, sys.stdout.buffer, 1 << 20)


def remove(id_, must_be_complete):
    """Removes a backup, the manifest first, then every object no other backup refers to."""
    if not os.path.exists(manifest_path(id_)):
        if must_be_complete:
            sys.exit(ABSENT)
    else:
        os.unlink(manifest_path(id_))
        sync_folder(backup(id_))
    with store_lock():
        shutil.rmtree(backup(id_), ignore_errors=True)
        used = set()
        for other in os.listdir(BACKUPS) if os.path.isdir(BACKUPS) else []:
            for folder, _, files in os.walk(os.path.join(BACKUPS, other, "refs")):
                for file in (f for f in files if not f.startswith(".partial-")):
                    with open(os.path.join(folder, file)) as ref:
                        used.add(ref.read().strip())
        for entry in os.scandir(OBJECTS) if os.path.isdir(OBJECTS) else []:
            if entry.is_file() and entry.name not in used:
                os.unlink(entry.path)
        # What killed puts left behind.
        for entry in os.scandir(os.path.join(OBJECTS, ".incoming")) if os.path.isdir(OBJECTS + "/.incoming") else []:
            if time.time() - entry.stat().st_mtime > 86400:
                os.unlink(entry.path)


def main(verb, *args):
    if verb == "hello":
        print("lifeboat-exec-protocol 1")
    elif verb == "begin":
        make_folders(BACKUPS)
        try:
            os.mkdir(backup(args[0]))  # atomic: two runs cannot both reserve an id
        except FileExistsError:
            sys.exit(ABSENT)
        sync_folder(BACKUPS)
    elif verb == "put":
        put(*args)
    elif verb == "get":
        get(*args)
    elif verb == "commit":
        print(*write_atomically(manifest_path(args[0]), stdin_chunks()))
    elif verb == "manifest":
        if not os.path.exists(manifest_path(args[0])):
            sys.exit(ABSENT)
        with open(manifest_path(args[0]), "rb") as manifest:
            shutil.copyfileobj(manifest, sys.stdout.buffer)
    elif verb == "list":
        for id_ in os.listdir(BACKUPS) if os.path.isdir(BACKUPS) else []:
            if os.path.exists(manifest_path(id_)):
                print(id_)
    elif verb in ("delete", "abort"):
        remove(args[0], must_be_complete=verb == "delete")
    else:
        sys.exit(f"unknown verb {verb}")


if __name__ == "__main__":
    main(*sys.argv[1:])
