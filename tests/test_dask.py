"""The sharded CPU stages on a Dask cluster (prefect-dask) give the tables of a local run."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stages.options import IngestParams
from stages.stage import NAMES, get
from warehouse import Warehouse

pytestmark = pytest.mark.slow

DASK = tuple(n for n in NAMES if get(n).parallel)  # the CPU stages; any other runs in the flow process
KEYS = {"features": ["record_id"], "lead_features": ["record_id", "lead"], "findings": ["record_id", "criterion"],
        "concordance": ["record_id"], "prompts": ["sample_id"]}


def _table(wh: Warehouse, table: str) -> pl.DataFrame:
    """Every part of ``table``, sorted by its key, without the writing run's id."""
    df = pl.read_parquet(wh.table_dir(table) / "*.parquet")
    return df.drop("run_id", strict=False).sort(KEYS[table])


def test_cpu_stages_on_a_dask_cluster_match_a_local_run(prefect_harness, sample_ptbxl, tmp_path):
    import distributed

    from flows.runners import task_runner
    from flows.stages import FLOWS

    sources = {"ptbxl": str(sample_ptbxl)}
    on_dask, local = Warehouse(tmp_path / "dask"), Warehouse(tmp_path / "local")
    for wh in (on_dask, local):
        get("ingest").run(wh, IngestParams(sources=sources, shard_size=3))  # 8 records: 3 shards
    stages = [n for n in NAMES[1:NAMES.index("evidence") + 1]]
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"})
    try:
        with distributed.Client(cluster) as client:
            with distributed.get_task_stream(client) as stream:  # read on leaving the block
                runner = task_runner(dask_address=cluster.scheduler_address)
                counts = {name: FLOWS[name].with_options(task_runner=runner)(on_dask) if name in DASK
                          else get(name).run(on_dask) for name in stages}
            workers = set(client.scheduler_info()["workers"])
    finally:
        cluster.close()
    assert all(counts[name]["shards"] == 3 for name in DASK), counts
    ran = [t for t in stream.data if t["key"].startswith("stage_shard")]  # keys: <function>-<hash>
    assert len(ran) == 3 * len(DASK) and {t["worker"] for t in ran} <= workers
    for name in stages:
        get(name).run(local)
    for table in KEYS:
        dask_rows = _table(on_dask, table)
        assert dask_rows.height > 0, table
        assert_frame_equal(dask_rows, _table(local, table), check_exact=True)
