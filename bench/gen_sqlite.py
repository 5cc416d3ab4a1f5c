#!/usr/bin/env python3
"""Generates a SQLite database of realistic application rows for bench/sqlite.sh.

    python3 bench/gen_sqlite.py OUT.db MB [SEED]       # a database of about MB megabytes
    python3 bench/gen_sqlite.py --update DB N [SEED]   # N scattered single-row UPDATEs
    python3 bench/gen_sqlite.py --delete DB N [SEED]   # N scattered single-row DELETEs

Tables: `users` (uuid, e-mail, display name, JSON profile, hex password hash) and `events`
(uuid, stream uuid, kind, timestamps, a JSON payload of a dozen event kinds, the payload's
SHA-256 in hex), with a unique index on each uuid and one on (stream_id, created_at), in WAL
mode like most applications' databases. Deterministic for a given seed.

`--update` changes N random events one transaction each, the way an application does: a
status change in the JSON payload, a new `updated_at` and a new hash. Rows keep their size
class, so no page splits are forced; what changes is what a real status update changes.
"""
import hashlib
import json
import random
import sqlite3
import sys

KINDS = [
    "OrderPlaced", "OrderPaid", "OrderShipped", "OrderDelivered", "OrderCancelled",
    "PaymentAuthorized", "PaymentCaptured", "RefundIssued", "UserSignedIn",
    "UserSignedOut", "EmailSent", "CartUpdated",
]
STATUSES = ["pending", "paid", "packed", "shipped", "delivered", "returned"]
CITIES = ["Berlin", "Lisbon", "Osaka", "Austin", "Nairobi", "Lyon", "Porto", "Tartu"]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "okhttp/4.12.0",
]


def uuid(rnd):
    h = "%032x" % rnd.getrandbits(128)
    return "%s-%s-4%s-%s-%s" % (h[:8], h[8:12], h[13:16], h[16:20], h[20:32])


def ts(rnd, base=1_764_000_000):
    t = base + rnd.randrange(0, 90 * 86400)
    return "2026-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        9 + t % 3, 1 + t % 28, t % 24, t % 60, (t // 7) % 60, rnd.randrange(1_000_000))


def payload(rnd, kind, status=None):
    p = {
        "kind": kind,
        "order_id": rnd.randrange(10**9),
        "status": status or rnd.choice(STATUSES),
        "currency": rnd.choice(["EUR", "USD", "JPY"]),
        "total_cents": rnd.randrange(100, 500_000),
        "items": [
            {"sku": "SKU-%06d" % rnd.randrange(10**6), "qty": rnd.randrange(1, 5),
             "price_cents": rnd.randrange(100, 90_000)}
            for _ in range(rnd.randrange(1, 4))
        ],
        "shipping": {"city": rnd.choice(CITIES), "zip": "%05d" % rnd.randrange(10**5),
                     "carrier": rnd.choice(["dhl", "ups", "fedex", "post"])},
        "client": {"ip": "10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)),
                   "agent": rnd.choice(AGENTS)},
        "trace_id": "%016x" % rnd.getrandbits(64),
    }
    return json.dumps(p, separators=(",", ":"), sort_keys=True)


def generate(path, mb, seed):
    rnd = random.Random(seed)
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode = OFF")
    c.execute("PRAGMA synchronous = OFF")
    c.execute("PRAGMA cache_size = -262144")
    c.execute("""CREATE TABLE users (
        id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, email TEXT NOT NULL, name TEXT NOT NULL,
        profile TEXT NOT NULL, password_hash TEXT NOT NULL, created_at TEXT NOT NULL)""")
    c.execute("""CREATE TABLE events (
        id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, stream_id TEXT NOT NULL, kind TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, payload TEXT NOT NULL,
        sha256 TEXT NOT NULL)""")
    target = mb * 1024 * 1024
    users = max(1000, int(target * 0.08 / 400))
    c.execute("BEGIN")
    batch = []
    for i in range(users):
        name = "user%07d" % i
        profile = json.dumps({"locale": rnd.choice(["de", "en", "ja", "pt"]),
                              "newsletter": rnd.random() < 0.3,
                              "city": rnd.choice(CITIES),
                              "tags": [rnd.choice(KINDS) for _ in range(3)]},
                             separators=(",", ":"))
        batch.append((uuid(rnd), name + "@example.com", name.title(), profile,
                      hashlib.sha256(name.encode()).hexdigest(), ts(rnd)))
        if len(batch) == 10000:
            c.executemany("INSERT INTO users(uuid, email, name, profile, password_hash, created_at) VALUES (?,?,?,?,?,?)", batch)
            batch = []
    if batch:
        c.executemany("INSERT INTO users(uuid, email, name, profile, password_hash, created_at) VALUES (?,?,?,?,?,?)", batch)
    c.execute("COMMIT")
    streams = [uuid(rnd) for _ in range(50_000)]
    # Events until the file (with its indexes, built at the end: about 1/6 of it) is MB.
    events_bytes = target * 0.70
    written = 0
    while written < events_bytes:
        c.execute("BEGIN")
        batch = []
        for _ in range(20000):
            kind = rnd.choice(KINDS)
            p = payload(rnd, kind)
            t = ts(rnd)
            row = (uuid(rnd), rnd.choice(streams), kind, t, t, p, hashlib.sha256(p.encode()).hexdigest())
            written += len(p) + 36 + 36 + 64 + 2 * 27 + len(kind) + 12
            batch.append(row)
        c.executemany("INSERT INTO events(uuid, stream_id, kind, created_at, updated_at, payload, sha256) VALUES (?,?,?,?,?,?,?)", batch)
        c.execute("COMMIT")
    c.execute("CREATE UNIQUE INDEX users_uuid ON users(uuid)")
    c.execute("CREATE UNIQUE INDEX events_uuid ON events(uuid)")
    c.execute("CREATE INDEX events_stream ON events(stream_id, created_at)")
    c.execute("PRAGMA user_version = 42")
    c.execute("PRAGMA journal_mode = WAL")
    c.close()


def update(path, n, seed):
    rnd = random.Random(seed)
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode = WAL")
    top = c.execute("SELECT max(id) FROM events").fetchone()[0]
    ids = rnd.sample(range(1, top + 1), n)
    for i in ids:
        (kind, old) = c.execute("SELECT kind, payload FROM events WHERE id = ?", (i,)).fetchone()
        p = json.loads(old)
        p["status"] = rnd.choice([s for s in STATUSES if s != p["status"]])
        new = json.dumps(p, separators=(",", ":"), sort_keys=True)
        c.execute("UPDATE events SET payload = ?, sha256 = ?, updated_at = ? WHERE id = ?",
                  (new, hashlib.sha256(new.encode()).hexdigest(), ts(rnd, 1_772_000_000), i))
    c.close()


def delete(path, n, seed):
    rnd = random.Random(seed)
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode = WAL")
    top = c.execute("SELECT max(id) FROM events").fetchone()[0]
    for i in rnd.sample(range(1, top + 1), n):
        c.execute("DELETE FROM events WHERE id = ?", (i,))
    c.close()


if __name__ == "__main__":
    if sys.argv[1] == "--delete":
        delete(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 3)
    elif sys.argv[1] == "--update":
        update(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 2)
    else:
        generate(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)
