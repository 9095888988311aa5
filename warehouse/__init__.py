"""Parquet parts + DuckDB catalog."""

from warehouse.store import Warehouse

__all__ = ["Warehouse"]
