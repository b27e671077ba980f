"""Benchmark: intervention planning on a classified database (``python -m bench --only plan``).

Measured in the same run, on the same points:

* ``ST_ClusterDBSCAN`` over every target premises of the database (below 30 Mbit/s, or possibly
  below with probability at least 0.5, in no planned build), with the cost model's distance and
  minimum premises, beside scikit-learn's ``DBSCAN`` on the same points with the same parameters
  (eps, min_samples; kd-tree): time, memory (the PostgreSQL backend's peak resident memory,
  VmHWM, when the server is on this machine; the Python process's peak for scikit-learn), and
  whether the clusters are the same (the same partition up to numbering, border premises aside:
  DBSCAN may give a premises within reach of two clusters to either);
* ``planning.clusters`` for the authority with the most targets: clusters, routes and costs end
  to end (target: under 10 s).
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psycopg


def _backend_hwm_mb(conn) -> float | None:
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:  # a remote server, or another user's process
        return None
    return None


def compare_labels(ours: np.ndarray, theirs: np.ndarray) -> dict:
    """How far two DBSCAN labellings (-1 or 0: noise) differ: the premises whose label differs
    under the best one-to-one matching of clusters (each of ours to the one of theirs it shares
    most premises with)."""
    noise_ours, noise_theirs = ours <= 0, theirs < 0
    pairs = {}
    for a, b in zip(ours[~noise_ours], theirs[~noise_ours], strict=True):
        pairs[(a, b)] = pairs.get((a, b), 0) + 1
    best = {}
    for (a, b), n in pairs.items():
        if n > best.get(a, (None, 0))[1]:
            best[a] = (b, n)
    matched = sum(n for _, n in best.values())
    return {"clusters": int(len(set(ours[~noise_ours]))),
            "peer_clusters": int(len(set(theirs[~noise_theirs]))),
            "noise": int(noise_ours.sum()), "peer_noise": int(noise_theirs.sum()),
            "noise_differs": int((noise_ours != noise_theirs).sum()),
            "premises_in_another_cluster": int((~noise_ours).sum() - matched),
            "same": bool((noise_ours == noise_theirs).all() and matched == (~noise_ours).sum()
                         and len(best) == len(set(b for b, _ in best.values())))}


def run(url: str) -> dict:
    from sklearn.cluster import DBSCAN

    from connectivity import planning
    from connectivity.costs import load_costs

    model = load_costs()
    params = planning.params_from(model)
    out: dict = {"benchmark": "plan", "distance_m": params.distance_m,
                 "min_premises": params.min_premises}
    with psycopg.connect(url) as conn:
        run_id = conn.execute("SELECT id FROM gapmap.classification_run WHERE is_current").fetchone()[0]
        condition = """NOT coalesce(c.planned_build, false) AND (c.status = 'below' OR
                       (c.status = 'possibly_below' AND c.probability_below >= %(p)s))"""
        conn.execute("SET jit = off")
        t0 = time.perf_counter()
        labels = conn.execute(
            f"""SELECT c.uprn, ST_X(p.geom), ST_Y(p.geom),
                       ST_ClusterDBSCAN(p.geom, eps => %(eps)s, minpoints => %(n)s)
                           OVER (ORDER BY c.uprn)
                FROM gapmap.premises_class_{run_id} c JOIN gapmap.premises p USING (uprn)
                WHERE {condition} ORDER BY c.uprn""",
            {"eps": params.distance_m, "n": params.min_premises, "p": params.probability_below}
        ).fetchall()
        out["postgis_seconds"] = round(time.perf_counter() - t0, 2)
        out["postgis_backend_peak_mb"] = _backend_hwm_mb(conn)
        out["targets"] = len(labels)
        pts = np.array([(x, y) for _, x, y, _ in labels], dtype=float)
        ours = np.array([-1 if k is None else k + 1 for *_, k in labels])
        tracemalloc.start()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        theirs = DBSCAN(eps=params.distance_m, min_samples=params.min_premises,
                        algorithm="kd_tree").fit(pts).labels_
        out["sklearn_seconds"] = round(time.perf_counter() - t0, 2)
        out["sklearn_traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        out["sklearn_rss_growth_mb"] = round(
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, 1)
        out["comparison"] = compare_labels(np.where(ours < 0, 0, ours), theirs)
        la, n = conn.execute(
            f"""SELECT m.la, count(*) FROM gapmap.premises_class_{run_id} c
                JOIN gapmap.premises_place m USING (uprn) WHERE m.la IS NOT NULL AND {condition}
                GROUP BY 1 ORDER BY 2 DESC LIMIT 1""", {"p": params.probability_below}).fetchone()
        t0 = time.perf_counter()
        result = planning.clusters(conn, model, params, la=la)
        out["largest"] = {"authority": la, "targets": n,
                          "seconds": round(time.perf_counter() - t0, 2),
                          "clusters": result["totals"]["clusters"],
                          "isolated": result["totals"]["isolated_premises"],
                          "steps": result["steps"]}
        conn.rollback()
    return out


def markdown(bench: dict) -> str:
    c = bench["comparison"]
    big = bench["largest"]
    lines = [f"{bench['targets']:,} target premises; eps {bench['distance_m']:g} m, "
             f"minimum {bench['min_premises']} premises.\n",
             "| clustering every target premises | seconds | peak memory MB | clusters | noise |",
             "|---|---:|---:|---:|---:|",
             f"| PostGIS ST_ClusterDBSCAN (query, incl. fetching the points) | "
             f"{bench['postgis_seconds']} | {bench['postgis_backend_peak_mb'] or 'n/a'} (backend) | "
             f"{c['clusters']:,} | {c['noise']:,} |",
             f"| scikit-learn DBSCAN (kd-tree) on the same points | {bench['sklearn_seconds']} | "
             f"{bench['sklearn_traced_peak_mb']} (traced) | {c['peer_clusters']:,} | "
             f"{c['peer_noise']:,} |",
             "",
             f"Same clusters: {'yes' if c['same'] else 'no'} ({c['noise_differs']:,} premises "
             f"noise in one only, {c['premises_in_another_cluster']:,} in another cluster).",
             "",
             f"Clusters and costs for {big['authority']} ({big['targets']:,} targets): "
             f"{big['seconds']} s end to end ({big['clusters']:,} clusters, "
             f"{big['isolated']:,} isolated; steps {big['steps']}); target under 10 s."]
    return "\n".join(lines)
