"""Parquet parts + DuckDB catalog."""

from warehouse.store import Warehouse, WarehouseLocked

__all__ = ["Warehouse", "WarehouseLocked"]
