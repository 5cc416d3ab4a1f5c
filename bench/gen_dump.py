#!/usr/bin/env python3
"""Generate a deterministic, pg_dump-style plain-text SQL dump and its "day 2" twin.

Day 1: header (SET ..., CREATE TABLE ...), a large
    COPY public.events (id, stream_id, seq, occurred_at, kind, payload) FROM stdin;
block with tab-separated rows (uuid stream ids, timestamps, nested JSON payloads that start
with an event id and a SHA-256 hash chain: 64-hex-digit `hash` and `prev_hash`), then a
small second table and the trailing constraints/indexes, like a real pg_dump.

Day 2: byte-identical to day 1 except that
  * ~UPDATES rows (default 300), spread uniformly over the table, have a changed
    payload (same id, different content and length), and
  * ~APPEND_PCT percent (default 2 %) more event rows are appended at the end of the
    COPY block (new ids, later timestamps).

Both files are written in one pass.  Rows are generated in fixed-size chunks, each
from its own seeded RNG, on all cores (multiprocessing), so the output depends only
on (--mb, --seed, --updates, --append-pct) and not on the number of cores.

Usage: gen_dump.py --mb 1000 --day1 OUT1 --day2 OUT2 [--seed 42]
"""

import argparse
import hashlib
import os
import random
import sys
import time
from multiprocessing import Pool

CHUNK_ROWS = 20000
EPOCH_START = 1704067200  # 2024-01-01 00:00:00 UTC
N_STREAMS = 250000

KINDS = [
    ("order_placed", 14), ("order_paid", 10), ("payment_captured", 10),
    ("shipment_dispatched", 7), ("shipment_delivered", 6), ("cart_updated", 16),
    ("user_signed_in", 14), ("user_profile_updated", 4), ("email_sent", 9),
    ("refund_issued", 2), ("inventory_adjusted", 6), ("support_ticket_opened", 2),
]
KIND_TABLE = [k for k, w in KINDS for _ in range(w)]

CURRENCIES = ["EUR", "EUR", "EUR", "USD", "USD", "GBP", "CHF", "SEK", "PLN"]
COUNTRIES = [("DE", "Berlin", "10115"), ("DE", "Hamburg", "20095"), ("DE", "Munich", "80331"),
             ("FR", "Paris", "75001"), ("FR", "Lyon", "69001"), ("NL", "Amsterdam", "1012"),
             ("GB", "London", "EC1A 1BB"), ("US", "New York", "10001"), ("US", "Austin", "73301"),
             ("AT", "Vienna", "1010"), ("CH", "Zurich", "8001"), ("PL", "Warsaw", "00-001"),
             ("ES", "Madrid", "28001"), ("IT", "Milan", "20121"), ("SE", "Stockholm", "111 20")]
STREETS = ["Hauptstrasse", "Bahnhofstrasse", "Rue de la Paix", "Main Street", "High Street",
           "Kerkstraat", "Via Roma", "Calle Mayor", "Schillerweg", "Lindenallee", "Market Lane"]
FIRST = ["Anna", "Lukas", "Marie", "Jonas", "Emma", "Paul", "Mia", "Leon", "Sofia", "Noah",
         "Olivia", "Liam", "Chloe", "Hugo", "Lea", "Elias", "Nora", "Felix", "Ida", "Oscar"]
LAST = ["Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Dubois", "Martin", "Smith", "Jones", "Brown", "Rossi", "Garcia", "Jansen", "Nowak"]
DOMAINS = ["example.com", "mail.example.org", "example.net", "shop.example", "corp.example"]
CHANNELS = ["web", "web", "ios", "android", "api", "pos"]
METHODS = [("card", "visa"), ("card", "mastercard"), ("card", "amex"), ("paypal", None),
           ("sepa_debit", None), ("klarna", None), ("apple_pay", "visa")]
CARRIERS = ["DHL", "UPS", "DPD", "GLS", "FedEx", "PostNL", "Hermes"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "okhttp/4.12.0", "ShopApp/5.3.1 (Android 14; Pixel 8)", "ShopApp/5.3.0 (iOS 17.2; iPhone15,3)",
]
TEMPLATES = ["order_confirmation", "shipping_notice", "password_reset", "newsletter_weekly",
             "cart_reminder", "invoice", "review_request", "welcome"]
SOURCES = ["api-gateway", "checkout-svc", "payments-svc", "fulfillment-svc", "identity-svc",
           "notifications-svc", "inventory-svc"]
REASONS = ["damaged", "late_delivery", "wrong_size", "not_as_described", "duplicate_charge"]
FIELDS = ["email", "phone", "address", "display_name", "locale", "marketing_opt_in"]
WAREHOUSES = ["FRA-1", "HAM-2", "AMS-1", "LON-3", "WAW-1", "MAD-1"]
TOPICS = ["delivery", "billing", "account", "product_question", "returns"]

_date_cache = {}


def ts(secs, micros):
    day, rem = divmod(secs, 86400)
    d = _date_cache.get(day)
    if d is None:
        d = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
        _date_cache[day] = d
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return "%s %02d:%02d:%02d.%06d+00" % (d, h, m, s, micros)


def uuid_of(x):
    h = "%032x" % x
    return "%s-%s-4%s-a%s-%s" % (h[0:8], h[8:12], h[13:16], h[17:20], h[20:32])


def stream_uuid(k):
    # Deterministic per stream number, independent of the chunk RNG.
    return uuid_of((k * 0x9E3779B97F4A7C15F39CC0605CEDC834 + 0x632BE59BD9B4E019) & ((1 << 128) - 1))


def payload(r, kind, sid, when, variant=0):
    rb = r.getrandbits
    cur = r.choice(CURRENCIES)
    trace = "%016x" % rb(64)
    meta = '"meta": {"trace_id": "%s", "source": "%s", "schema_version": %d%s}' % (
        trace, r.choice(SOURCES), 3 + variant, ', "corrected": true, "correction_reason": "backfill-%d"' % rb(16) if variant else "")
    if kind in ("order_placed", "cart_updated"):
        n = 1 + int(r.random() ** 2 * 6)
        items = []
        total = 0
        for _ in range(n):
            q = 1 + rb(2)
            p = 199 + rb(14)
            total += q * p
            items.append('{"sku": "SKU-%05d-%s", "qty": %d, "unit_price_cents": %d}' % (
                rb(16) % 90000 + 10000, r.choice("ABCDEFGHJK"), q, p))
        c = r.choice(COUNTRIES)
        if kind == "cart_updated":
            body = '"cart_id": "%s", "customer_id": "%s", "currency": "%s", "items": [%s], "subtotal_cents": %d' % (
                uuid_of(rb(128)), sid, cur, ", ".join(items), total)
        else:
            body = ('"order_id": "%s", "customer_id": "%s", "currency": "%s", "total_cents": %d, "items": [%s], '
                    '"shipping": {"name": "%s %s", "street": "%s %d", "city": "%s", "postcode": "%s", "country": "%s"}, '
                    '"channel": "%s", "coupon": %s') % (
                uuid_of(rb(128)), sid, cur, total + 495, ", ".join(items), r.choice(FIRST), r.choice(LAST),
                r.choice(STREETS), 1 + rb(7), c[1], c[2], c[0], r.choice(CHANNELS),
                '"SPRING%02d"' % (rb(5)) if rb(3) == 0 else "null")
    elif kind in ("order_paid", "payment_captured", "refund_issued"):
        m, brand = r.choice(METHODS)
        amt = 500 + rb(16)
        body = '"payment_id": "pay_%024x", "order_id": "%s", "amount_cents": %d, "currency": "%s", "method": "%s"' % (
            rb(96), uuid_of(rb(128)), amt, cur, m)
        if brand:
            body += ', "card": {"brand": "%s", "last4": "%04d", "exp": "%02d/%d"}' % (brand, rb(14) % 10000, 1 + rb(4) % 12, 2025 + rb(2))
        if kind == "refund_issued":
            body += ', "reason": "%s", "partial": %s' % (r.choice(REASONS), "true" if rb(1) else "false")
        else:
            body += ', "psp_reference": "%s", "captured_at": "%s"' % ("%X" % rb(64), ts(when + rb(6), rb(20) % 1000000))
    elif kind in ("shipment_dispatched", "shipment_delivered"):
        body = '"shipment_id": "shp_%020x", "order_id": "%s", "carrier": "%s", "tracking_number": "%s%010d", "parcels": %d, "weight_grams": %d, "warehouse": "%s"' % (
            rb(80), uuid_of(rb(128)), r.choice(CARRIERS), r.choice(["JD", "1Z", "00"]), rb(33) % 10000000000, 1 + rb(1), 100 + rb(14), r.choice(WAREHOUSES))
        if kind == "shipment_delivered":
            body += ', "signed_by": "%s", "delivered_at": "%s"' % (r.choice(LAST).upper(), ts(when - rb(17), 0))
    elif kind in ("user_signed_in", "user_profile_updated"):
        body = '"user_id": "%s", "ip": "%d.%d.%d.%d", "user_agent": "%s", "mfa": %s, "session_id": "%032x"' % (
            sid, 1 + rb(8) % 223, rb(8), rb(8), 1 + rb(8) % 254, r.choice(AGENTS), "true" if rb(2) else "false", rb(128))
        if kind == "user_profile_updated":
            fs = r.sample(FIELDS, 1 + rb(2) % 3)
            body += ', "changed_fields": [%s]' % ", ".join('"%s"' % f for f in fs)
    elif kind == "email_sent":
        f, l = r.choice(FIRST), r.choice(LAST)
        body = '"message_id": "<%x.%x@mailer.example.com>", "to": "%s.%s%d@%s", "template": "%s", "locale": "%s", "provider_status": %d' % (
            rb(48), rb(32), f.lower(), l.lower(), rb(10), r.choice(DOMAINS), r.choice(TEMPLATES),
            r.choice(["de-DE", "en-GB", "en-US", "fr-FR", "nl-NL"]), r.choice([250, 250, 250, 250, 421, 550]))
    elif kind == "inventory_adjusted":
        body = '"sku": "SKU-%05d-%s", "warehouse": "%s", "delta": %d, "on_hand": %d, "reason": "%s"' % (
            rb(16) % 90000 + 10000, r.choice("ABCDEFGHJK"), r.choice(WAREHOUSES), rb(6) - 32, rb(12),
            r.choice(["cycle_count", "receiving", "damage", "return_restock"]))
    else:  # support_ticket_opened
        body = '"ticket_id": %d, "customer_id": "%s", "topic": "%s", "priority": "%s", "subject": "%s %s about order %d"' % (
            100000 + rb(24), sid, r.choice(TOPICS), r.choice(["low", "normal", "high"]),
            r.choice(["Question", "Problem", "Complaint", "Request"]), r.choice(["regarding", "with"]), rb(24))
    return "{%s, %s}" % (body, meta)


def chained(body, prev):
    """The payload with the event store's hash chain in front: a 64-hex-digit SHA-256 of the
    previous event's hash and this payload, and the previous hash (what tamper-evident event
    stores keep per row; incompressible hex, as in real ones)."""
    h = hashlib.sha256((prev + body).encode()).hexdigest()
    return '{"event_id": "%s", "hash": "%s", "prev_hash": "%s", %s' % (
        uuid_of(int(hashlib.sha256(h.encode()).hexdigest()[:32], 16)), h, prev, body[1:]), h


def make_row(r, rid, stream_counter, chain, variant=0):
    k = int(r.random() ** 1.3 * N_STREAMS)  # some streams are much hotter than others
    seq = stream_counter.get(k, rid // N_STREAMS) + 1
    stream_counter[k] = seq
    sid = stream_uuid(k)
    when = EPOCH_START + rid // 3
    kind = KIND_TABLE[r.getrandbits(16) % len(KIND_TABLE)]
    body, chain[0] = chained(payload(r, kind, sid, when, variant), chain[0])
    return "%d\t%s\t%d\t%s\t%s\t%s\n" % (rid, sid, seq, ts(when, r.getrandbits(20) % 1000000), kind, body)


def gen_chunk(args):
    """Returns (day1_text, day2_text_or_None) for rows [first_id, first_id+n)."""
    seed, idx, first_id, n, updates = args
    r = random.Random(seed * 1000003 + idx)
    counter = {}
    # Each chunk's chain starts from a hash of its index (chunks are generated independently).
    chain = [hashlib.sha256(b"chunk %d" % idx).hexdigest()]
    if not updates:
        return "".join([make_row(r, first_id + i, counter, chain) for i in range(n)]), None
    out1, out2 = [], []
    for i in range(n):
        rid = first_id + i
        prev = chain[0]
        row = make_row(r, rid, counter, chain)
        out1.append(row)
        if rid in updates:
            # Same id, stream, seq and time; a new payload (different content and length).
            ur = random.Random(seed * 7919 + rid)
            f = row.split("\t")
            f[5] = chained(payload(ur, f[4], f[1], EPOCH_START + rid // 3, variant=1), prev)[0] + "\n"
            out2.append("\t".join(f))
        else:
            out2.append(row)
    return "".join(out1), "".join(out2)


HEADER = """--
-- PostgreSQL database dump
--

-- Dumped from database version 15.5 (Debian 15.5-0+deb12u1)
-- Dumped by pg_dump version 15.5 (Debian 15.5-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: events; Type: TABLE; Schema: public; Owner: app
--

CREATE TABLE public.events (
    id bigint NOT NULL,
    stream_id uuid NOT NULL,
    seq integer NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL
);


ALTER TABLE public.events OWNER TO app;

--
-- Name: events_id_seq; Type: SEQUENCE; Schema: public; Owner: app
--

CREATE SEQUENCE public.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE public.events_id_seq OWNER TO app;
ALTER SEQUENCE public.events_id_seq OWNED BY public.events.id;

--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: app
--

CREATE TABLE public.schema_migrations (
    version bigint NOT NULL,
    inserted_at timestamp(0) without time zone
);


ALTER TABLE public.schema_migrations OWNER TO app;

--
-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: app
--

COPY public.events (id, stream_id, seq, occurred_at, kind, payload) FROM stdin;
"""


def trailer(last_id):
    mig = "".join("%d\t%s\n" % (20230101000000 + i * 1731, ts(EPOCH_START - 86400 * 400 + i * 86400 * 3, 0)[:19])
                  for i in range(120))
    return ("\\.\n\n\n--\n-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: app\n--\n\n"
            "COPY public.schema_migrations (version, inserted_at) FROM stdin;\n" + mig + "\\.\n\n\n"
            "--\n-- Name: events_id_seq; Type: SEQUENCE SET; Schema: public; Owner: app\n--\n\n"
            "SELECT pg_catalog.setval('public.events_id_seq', %d, true);\n\n\n"
            "--\n-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: app\n--\n\n"
            "ALTER TABLE ONLY public.events\n    ADD CONSTRAINT events_pkey PRIMARY KEY (id);\n\n\n"
            "--\n-- Name: events_stream_seq_idx; Type: INDEX; Schema: public; Owner: app\n--\n\n"
            "CREATE UNIQUE INDEX events_stream_seq_idx ON public.events USING btree (stream_id, seq);\n\n\n"
            "--\n-- Name: events_occurred_at_idx; Type: INDEX; Schema: public; Owner: app\n--\n\n"
            "CREATE INDEX events_occurred_at_idx ON public.events USING btree (occurred_at);\n\n\n"
            "--\n-- PostgreSQL database dump complete\n--\n\n") % last_id


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, required=True, help="approximate day-1 size in MB (10^6 bytes)")
    ap.add_argument("--day1", required=True)
    ap.add_argument("--day2", required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--updates", type=int, default=300)
    ap.add_argument("--append-pct", type=float, default=2.0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()

    t0 = time.time()
    target = int(a.mb * 1e6)
    # Calibrate rows per chunk from chunk 0 (deterministic), then fix the row count.
    c0, _ = gen_chunk((a.seed, 0, 1, CHUNK_ROWS, None))
    per_row = len(c0.encode()) / CHUNK_ROWS
    total_rows = max(1000, int((target - len(HEADER) - 8000) / per_row))
    appended = max(1, int(total_rows * a.append_pct / 100))
    upd_rng = random.Random(a.seed ^ 0x5EED)
    updates = set(upd_rng.sample(range(1, total_rows + 1), min(a.updates, total_rows)))

    jobs = []
    rid = 1
    idx = 0
    while rid <= total_rows:
        n = min(CHUNK_ROWS, total_rows - rid + 1)
        u = frozenset(x for x in updates if rid <= x < rid + n)
        jobs.append((a.seed, idx, rid, n, u))
        rid += n
        idx += 1
    # appended rows (day 2 only): separate chunk index space
    app_jobs = []
    rid = total_rows + 1
    while rid <= total_rows + appended:
        n = min(CHUNK_ROWS, total_rows + appended - rid + 1)
        app_jobs.append((a.seed, 1000000 + idx, rid, n, None))
        rid += n
        idx += 1

    tmp1, tmp2 = a.day1 + ".tmp", a.day2 + ".tmp"
    with open(tmp1, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f1, \
            open(tmp2, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f2, \
            Pool(max(1, a.jobs)) as pool:
        f1.write(HEADER)
        f2.write(HEADER)
        for d1, d2 in pool.imap(gen_chunk, jobs, chunksize=1):
            f1.write(d1)
            f2.write(d1 if d2 is None else d2)
        for d1, _ in pool.imap(gen_chunk, app_jobs, chunksize=1):
            f2.write(d1)
        f1.write(trailer(total_rows))
        f2.write(trailer(total_rows + appended))
    os.replace(tmp1, a.day1)
    os.replace(tmp2, a.day2)
    s1, s2 = os.path.getsize(a.day1), os.path.getsize(a.day2)
    print("gen_dump: day1 %d rows %.1f MB, day2 +%d rows, %d updated rows, %.1f MB, %.1fs" % (
        total_rows, s1 / 1e6, appended, len(updates), s2 / 1e6, time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
