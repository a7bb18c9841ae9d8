"""One day of ~2M events through ingest -> features -> KPIs on PostgreSQL.

Generates a one-day demo platform sized to about ``--events`` source rows, writes it into
fresh PostgreSQL source databases (assessment and Moodle schemas), then times the three
stages against a fresh PostgreSQL warehouse and prints rows/s and peak memory. A peer
(pandas ``read_sql`` + ``to_sql``) loads the same day's events for comparison.

    python benchmarks/spine_2m.py [--events 2000000] [--pg postgresql+psycopg2://postgres@127.0.0.1:5432/test] [--no-peer]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import resource
import time
import uuid

import pandas as pd
import sqlalchemy as sa

DAY = dt.date(2026, 3, 4)  # a Wednesday


def _admin(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def _create_db(admin: sa.Engine, name: str) -> str:
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    return admin.url.set(database=name).render_as_string(hide_password=False)


def _drop_db(admin: sa.Engine, name: str) -> None:
    with admin.connect() as c:
        c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _write_sources(students: int, asmt_url: str, moodle_url: str, out: mp.Queue) -> None:
    from alt42_pipeline.demo import DemoConfig, generate
    from alt42_pipeline.demo.write import write_assessment, write_moodle

    t = time.perf_counter()
    p = generate(DemoConfig(students=students, days=1, end_date=DAY, seed=3))
    write_assessment(p, sa.create_engine(asmt_url))
    write_moodle(p, sa.create_engine(moodle_url))
    out.put((p.n_events, time.perf_counter() - t))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--pg", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    students = max(100, int(args.events / 16.3))  # about 16 source rows per student on one day

    admin = _admin(args.pg)
    tag = uuid.uuid4().hex[:8]
    names = [f"alt42_bench_{k}_{tag}" for k in ("asmt", "moodle", "wh")]
    asmt_url, moodle_url, wh_url = (_create_db(admin, n) for n in names)
    try:
        q: mp.Queue = mp.get_context("spawn").Queue()
        proc = mp.get_context("spawn").Process(target=_write_sources, args=(students, asmt_url, moodle_url, q))
        proc.start()
        n_source, gen_s = q.get()
        proc.join()
        print(f"sources: {n_source:,} rows for {students:,} students written in {gen_s:.1f} s (not timed below)")

        from alt42_pipeline.sources import Sources
        from alt42_pipeline.spine import ingest_day, refresh_catalogue, refresh_features, refresh_kpis, week_start
        from alt42_pipeline.warehouse import Warehouse, make_engine

        wh = Warehouse(wh_url)
        wh.migrate()
        sources = Sources(make_engine(asmt_url), make_engine(moodle_url), "mdl_")
        now = dt.datetime(2026, 3, 5, 2, 10)
        refresh_catalogue(wh, sources, now)

        rows = []
        t0 = time.perf_counter()
        r = ingest_day(wh, sources, DAY, now)
        t1 = time.perf_counter()
        feats = refresh_features(wh, DAY, now)
        t2 = time.perf_counter()
        kpis = refresh_kpis(wh, week_start(DAY), now)
        t3 = time.perf_counter()
        from alt42_pipeline.defs.spine import accounting_check

        check = accounting_check("events_accounting", wh, [DAY])
        t4 = time.perf_counter()
        print(f"accounting: {r.accounting_line()}")
        print(f"accounting check: {'passed' if check.passed else 'FAILED'} in {t4 - t3:.2f} s (not in the total)")
        rows = [
            ("ingest (read sources, canonicalize, write events)", r.read_rows, t1 - t0, r.events),
            ("features_topic_daily (read events, aggregate, write)", r.events, t2 - t1, len(feats)),
            ("weekly_kpi (read week's events, KPIs, write)", r.events, t3 - t2, len(kpis)),
        ]
        print(f"\n{'stage':55s} {'rows in':>10s} {'seconds':>8s} {'rows/s':>10s} {'rows out':>10s}")
        for name, n_in, secs, n_out in rows:
            print(f"{name:55s} {n_in:>10,d} {secs:>8.2f} {n_in / secs:>10,.0f} {n_out:>10,d}")
        total = t3 - t0
        print(f"{'total':55s} {r.read_rows:>10,d} {total:>8.2f} {r.read_rows / total:>10,.0f}")
        print(f"peak memory (RSS) of the pipeline process: {_peak_mib():,.0f} MiB")

        if not args.no_peer:
            # peer: the same events written with pandas to_sql and read back with read_sql
            events = wh.read("events", {"event_date": DAY})
            peer_engine = sa.create_engine(wh_url)
            t = time.perf_counter()
            events.to_sql("peer_events", peer_engine, if_exists="replace", index=False, method="multi", chunksize=5_000)
            w_peer = time.perf_counter() - t
            t = time.perf_counter()
            pd.read_sql("SELECT * FROM peer_events", peer_engine)
            r_peer = time.perf_counter() - t
            t = time.perf_counter()
            wh.replace("events", events, {"event_date": DAY})
            w_ours = time.perf_counter() - t
            t = time.perf_counter()
            wh.read("events", {"event_date": DAY})
            r_ours = time.perf_counter() - t
            print(
                f"\nwrite {len(events):,} events: ours {w_ours:.2f} s, pandas to_sql(multi) {w_peer:.2f} s -> {w_peer / w_ours:.1f}x"
            )
            print(
                f"read  {len(events):,} events: ours {r_ours:.2f} s, pandas read_sql {r_peer:.2f} s -> {r_peer / r_ours:.1f}x"
            )
        wh.engine.dispose()
        for e in (sources.assessment, sources.moodle):
            e.dispose()
    finally:
        for n in names:
            _drop_db(admin, n)


if __name__ == "__main__":
    main()
