"""Adds N revoked sessions to a Tessera SQLite database (bench/run.sh): every one in force for
an hour, so a server started on it loads N entries into its deny-set."""
import sqlite3
import sys
import time
import uuid

path, count = sys.argv[1], int(sys.argv[2])
now = int(time.time())
with sqlite3.connect(path) as db:
    db.executemany(
        "INSERT INTO revocations (session_id, revoked_at, until_at) VALUES (?, ?, ?)",
        ((str(uuid.uuid4()), now, now + 3600) for _ in range(count)),
    )
print(f"{count} revocations added to {path}", file=sys.stderr)
