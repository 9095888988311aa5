"""The warehouse handle: a relocatable catalog, parameterised read-only sql, readers never
blocked by a writer, one writer at a time (the lock), and a picklable, validated value."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
import pydantic
import pytest

from stages.runs import recorded
from warehouse import Warehouse, WarehouseLocked
from warehouse.store import LOCK_STALE_S

REPO = Path(__file__).resolve().parents[1]


def _counts(wh: Warehouse, part: str, values: list[int]) -> None:
    wh.write("stage_counts", pl.DataFrame({
        "stage": "ingest", "shard": part, "count": [f"c{i}" for i in range(len(values))], "value": values,
        "written_at": datetime.now(timezone.utc)}), part)


def _selection(wh: Warehouse, part: str, ids: list[str]) -> None:
    wh.write("selection", pl.DataFrame({
        "record_id": ids, "selected": True, "code": "selected", "stratum": "norm",
        "rank": list(range(1, len(ids) + 1)), "reason": "picked"}), part)


@pytest.fixture
def filled(tmp_path) -> Warehouse:
    """Two tables (stage_counts in two parts, selection in one), catalog refreshed."""
    wh = Warehouse(tmp_path / "w", "run-1")
    _counts(wh, "a", [1, 2])
    _counts(wh, "b", [3])
    _selection(wh, "a", ["ptbxl:1", "ptbxl:2"])
    wh.refresh()
    return wh


def _python(code: str, **kwargs) -> subprocess.Popen:
    """``python -c code`` in a child process that imports this repository."""
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


# The catalog --------------------------------------------------------------------------------

def test_a_copied_warehouse_reads_its_own_parts_with_plain_duckdb(filled, tmp_path, monkeypatch):
    copy = Path(shutil.copytree(filled.root, tmp_path / "copy"))
    shutil.rmtree(filled.root)  # a catalog naming the original's parts would now fail or read nothing
    catalog = str(copy / "catalog.duckdb")

    con = duckdb.connect(catalog, read_only=True)
    con.execute(f"SET file_search_path = '{copy}'")
    assert con.execute("SELECT sum(value) FROM stage_counts").fetchall() == [(6,)]
    assert sorted(con.execute("SELECT record_id FROM selection").fetchall()) == [("ptbxl:1",), ("ptbxl:2",)]
    assert all(str(tmp_path) not in sql for (sql,) in con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal")
               .fetchall())
    con.close()

    monkeypatch.chdir(copy)  # `cd W && duckdb catalog.duckdb`: the current folder is searched
    with duckdb.connect("catalog.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM stage_counts").fetchall() == [(3,)]
        assert con.execute("SELECT count(*) FROM selection").fetchall() == [(2,)]

    monkeypatch.chdir(tmp_path)  # and through the class, from anywhere
    assert Warehouse(copy).sql("SELECT count(*) FROM stage_counts").item() == 3


def test_relative_views_resolve_against_the_root_not_the_working_folder(filled, tmp_path, monkeypatch):
    decoy = Warehouse(tmp_path / "decoy")
    _counts(decoy, "a", [100])
    monkeypatch.chdir(decoy.root)  # holds its own stage_counts/*.parquet
    assert filled.sql("SELECT sum(value) FROM stage_counts").item() == 6


def test_refresh_leaves_only_the_catalog_and_keeps_the_views(filled):
    assert sorted(p.name for p in filled.root.iterdir()) == ["catalog.duckdb", "selection", "stage_counts"]
    views = filled.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1")["view_name"].to_list()
    assert views == ["selection", "stage_counts"]
    filled.drop_parts("selection", "a")
    filled.refresh()  # a table without parts loses its view
    assert filled.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal")["view_name"].to_list() \
        == ["stage_counts"]


# sql and read_part -----------------------------------------------------------------------

def test_sql_takes_parameters(filled):
    assert filled.sql("SELECT sum(value) FROM stage_counts WHERE shard = ?", ["a"]).item() == 3
    assert filled.sql("SELECT count(*) FROM stage_counts WHERE shard = $shard AND value >= $least",
                      {"shard": "b", "least": 3}).item() == 1
    quoted = "x' OR '1'='1"
    assert filled.sql("SELECT count(*) FROM selection WHERE record_id = ?", [quoted]).item() == 0
    assert filled.sql("SELECT 1 AS one WHERE false").columns == ["one"]


def test_sql_only_reads_and_never_rewrites_the_catalog(filled):
    before = filled.catalog.stat()
    time.sleep(0.02)
    filled.sql("SELECT count(*) FROM stage_counts")
    _counts(filled, "c", [7])  # written, not yet refreshed: a reader sees the catalog as it was
    _selection(filled, "zz", ["mimic:9"])
    assert filled.sql("SELECT count(*) FROM stage_counts").item() == 4  # the glob sees the new part
    after = filled.catalog.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    with pytest.raises(duckdb.Error):
        filled.sql("CREATE TABLE scratch AS SELECT 1 AS x")
    assert filled.catalog.stat().st_mtime_ns == before.st_mtime_ns


def test_sql_before_any_writer_says_so(tmp_path):
    wh = Warehouse(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no stage has written this warehouse yet"):
        wh.sql("SELECT 1")
    assert not wh.catalog.exists()


def test_read_part(filled):
    part = filled.read_part("stage_counts", "a")
    assert part["value"].to_list() == [1, 2] and set(part["run_id"]) == {"run-1"}
    assert filled.read_part("stage_counts", "b", columns=["value"]).to_dict(as_series=False) == {"value": [3]}
    with pytest.raises(FileNotFoundError, match="'nope'.*'stage_counts'"):
        filled.read_part("stage_counts", "nope")
    with pytest.raises(FileNotFoundError, match="'a'.*'features'"):
        filled.read_part("features", "a")


# Readers and the writer --------------------------------------------------------------------

def test_refresh_while_a_reader_holds_the_catalog(filled):
    reader = duckdb.connect(str(filled.catalog), read_only=True)
    reader.execute(f"SET file_search_path = '{filled.root}'")
    assert reader.execute("SELECT count(*) FROM stage_counts").fetchall() == [(3,)]
    _counts(filled, "c", [4])
    _selection(filled, "b", ["mimic:3"])
    filled.refresh()  # must neither be refused nor disturb the reader
    assert reader.execute("SELECT count(*) FROM stage_counts").fetchall() == [(4,)]
    assert reader.execute("SELECT count(*) FROM selection").fetchall() == [(3,)]
    # a new read in this process sees the new catalog though the old one is still open here
    assert filled.sql("SELECT count(*) FROM selection").item() == 3
    reader.close()


def test_refresh_while_another_process_reads(filled):
    child = _python(
        "import duckdb, sys\n"
        f"con = duckdb.connect({str(filled.catalog)!r}, read_only=True)\n"
        f"con.execute(\"SET file_search_path = '{filled.root}'\")\n"
        "print(con.execute('SELECT count(*) FROM stage_counts').fetchall()[0][0], flush=True)\n"
        "sys.stdin.readline()\n"
        "print(con.execute('SELECT count(*) FROM stage_counts').fetchall()[0][0], flush=True)\n",
        stdin=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "3"
        _counts(filled, "c", [4])
        filled.refresh()
        assert filled.sql("SELECT count(*) FROM stage_counts").item() == 4
        child.stdin.write("\n")
        child.stdin.flush()
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert out.strip() == "4"


# The lock -------------------------------------------------------------------------------

def test_a_second_writer_is_refused_naming_the_first(tmp_path):
    wh = Warehouse(tmp_path / "w")
    code = ("import sys\nfrom warehouse import Warehouse, WarehouseLocked\n"
            "try:\n"
            f"    with Warehouse({str(wh.root)!r}).lock('run-b', wait=False):\n"
            "        print('acquired')\n"
            "except WarehouseLocked as exc:\n"
            "    print(exc)\n"
            "    sys.exit(3)\n")
    with wh.lock("run-a") as held:
        assert json.loads(wh.lock_file.read_text()) == held
        assert held["run_id"] == "run-a" and held["pid"] == os.getpid()
        child = _python(code)
        out, err = child.communicate(timeout=120)
        assert child.returncode == 3, out + err
        assert f"is being written by run run-a (pid {os.getpid()}, since {held['started_at']})" in out
        assert "wait for it or stop it" in out
    assert not wh.lock_file.exists()
    child = _python(code)  # released: the next writer gets it
    out, err = child.communicate(timeout=120)
    assert (child.returncode, out.strip()) == (0, "acquired"), err


def test_a_waiting_writer_gets_the_lock_when_it_is_released(tmp_path):
    wh = Warehouse(tmp_path / "w")
    code = ("import time\nfrom warehouse import Warehouse\n"
            f"wh = Warehouse({str(wh.root)!r})\n"
            "with wh.lock('run-b', poll_s=0.05, on_wait=lambda h: print('waiting', h['run_id'], flush=True)) as me:\n"
            "    print('acquired', me['run_id'], wh.holder()['run_id'], flush=True)\n")
    with wh.lock("run-a"):
        child = _python(code)
        try:
            assert child.stdout.readline().split() == ["waiting", "run-a"]
            time.sleep(0.5)
            assert child.poll() is None  # still waiting while we hold it
        except BaseException:
            child.kill()
            child.wait()
            raise
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert out.split() == ["acquired", "run-b", "run-b"]
    assert not wh.lock_file.exists()


def test_a_lock_left_by_a_dead_process_is_cleared(tmp_path):
    wh = Warehouse(tmp_path / "w")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    wh.lock_file.write_text(json.dumps({"run_id": "crashed", "pid": dead.pid, "host": socket.gethostname(),
                                        "started_at": "2024-01-01T00:00:00+00:00"}))
    with wh.lock("run-b", wait=False):
        assert wh.holder()["run_id"] == "run-b"
    assert not wh.lock_file.exists()


def test_a_half_written_lock_is_cleared_once_old_but_another_hosts_lock_is_not(tmp_path):
    wh = Warehouse(tmp_path / "w")
    wh.lock_file.write_text('{"run_id": "tor')
    old = time.time() - LOCK_STALE_S - 5
    os.utime(wh.lock_file, (old, old))
    with wh.lock("run-b", wait=False):
        assert wh.holder()["run_id"] == "run-b"
    wh.lock_file.write_text(json.dumps({"run_id": "remote", "pid": 999999999, "host": "another-host.invalid",
                                        "started_at": "2024-01-01T00:00:00+00:00"}))
    with pytest.raises(WarehouseLocked, match="run remote"), wh.lock("run-b", wait=False):
        pass
    assert wh.holder()["run_id"] == "remote"  # not ours: left in place


def test_the_lock_is_reentrant_for_its_run_and_released_only_by_its_holder(tmp_path):
    wh = Warehouse(tmp_path / "w")
    with wh.lock("run-a"):
        with wh.with_run("run-a").lock("run-a", wait=False):
            pass
        assert wh.holder()["run_id"] == "run-a"  # the inner exit keeps the outer's lock
        with pytest.raises(WarehouseLocked, match="run run-a"):  # this thread waiting on itself: refused
            with wh.lock("run-b"):
                pass
        assert wh.holder()["run_id"] == "run-a"
    assert wh.holder() is None


def test_the_lock_error_survives_pickling(tmp_path):
    exc = WarehouseLocked(tmp_path, {"run_id": "r", "pid": 1, "started_at": "t"})
    again = pickle.loads(pickle.dumps(exc))
    assert str(again) == str(exc) and again.holder == exc.holder


def test_recorded_holds_the_lock_for_the_whole_run(tmp_path):
    wh = Warehouse(tmp_path / "w")
    with recorded(wh, "select", {"seed": 1}) as run:
        assert run.warehouse == wh.with_run(run.id) and wh.run_id is None
        assert wh.holder()["run_id"] == run.id
        assert wh.sql("SELECT status FROM runs WHERE run_id = ?", [run.id]).item() == "running"
        with recorded(wh, "select", {}, run_id=run.id) as inner:  # the same run, nested: no deadlock
            assert inner.id == run.id
        assert wh.holder()["run_id"] == run.id
        with pytest.raises(WarehouseLocked, match=f"run {run.id}"):
            with recorded(wh, "other", {}, wait=False):
                pass
    assert wh.holder() is None
    assert wh.sql("SELECT flow, status FROM runs").rows() == [("select", "completed")]
    with pytest.raises(TypeError, match="Warehouse"):
        with recorded(str(wh.root), "select", {}):
            pass


def test_a_second_run_waits_and_says_for_whom(tmp_path, capsys):
    wh = Warehouse(tmp_path / "w")
    done = []
    with wh.lock("first"):
        def second():
            with recorded(wh, "second", {}) as run:
                done.append(run.id)
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert not done and thread.is_alive()
    thread.join(30)
    assert done and wh.holder() is None
    err = capsys.readouterr().err
    assert f"waiting for run first (pid {os.getpid()}, since " in err and f"to finish writing {wh.root}..." in err


# The value ------------------------------------------------------------------------------

def test_a_warehouse_is_a_validated_picklable_value(tmp_path, monkeypatch):
    wh = Warehouse(tmp_path / "w", "run-1")
    assert (wh.root, wh.run_id) == ((tmp_path / "w").resolve(), "run-1") and wh.root.is_dir()
    assert Warehouse(tmp_path / "w", run_id="run-1") == wh == Warehouse(root=tmp_path / "w", run_id="run-1")
    assert pickle.loads(pickle.dumps(wh)) == wh
    assert wh.with_run("run-2").run_id == "run-2" and wh.run_id == "run-1"
    with pytest.raises(pydantic.ValidationError):
        wh.run_id = "other"  # frozen

    monkeypatch.chdir(tmp_path)
    adapter = pydantic.TypeAdapter(Warehouse)
    got = adapter.validate_python("some/path")
    assert isinstance(got, Warehouse) and got.root == tmp_path / "some" / "path" and got.run_id is None
    assert adapter.validate_python(Path("some/path")) == got
    assert adapter.validate_python({"root": "w", "run_id": "run-1"}) == wh
    assert adapter.validate_python(adapter.dump_python(wh, mode="json")) == wh
    assert "string" in json.dumps(adapter.json_schema())  # a deployment may pass the path alone

    with pytest.raises(NotADirectoryError, match="not a URL: s3://bucket/w"):
        Warehouse("s3://bucket/w")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        adapter.validate_python(str(tmp_path / "file"))
