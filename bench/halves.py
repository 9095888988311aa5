"""The tuning half and the check half of the development data.

Thresholds and refinements chosen while looking at the records they are scored on do not carry
over to other records, so every accuracy bench prints its figures for two halves: ``tune``, the
records a change may be tuned on, and ``check``, the records it is judged on (a change is kept
only if the check half improves or holds). Records are split by patient, so no patient is in both,
with a seeded hash of the patient id: the split is reproducible and does not move when records
are added. PTB-XL's patients are ``patient_id`` of ptbxl_database.csv; every LUDB record is a
patient of its own.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

HALVES = ("tune", "check")
SEED = 0


def half(patient: str, seed: int = SEED) -> str:
    """``tune`` or ``check`` for a patient id."""
    return HALVES[hashlib.blake2b(f"{seed}:{patient}".encode(), digest_size=8).digest()[0] % 2]


def ptbxl_halves(root: Path, seed: int = SEED) -> dict[str, str]:
    """``ptbxl:<ecg_id>`` -> half, by ``patient_id``."""
    with open(root / "ptbxl_database.csv", newline="") as fh:
        return {f"ptbxl:{int(r['ecg_id']):05d}": half(str(int(float(r["patient_id"]))), seed) for r in csv.DictReader(fh)}


def ludb_half(record: int | str, seed: int = SEED) -> str:
    """The half of LUDB record ``record`` (its number)."""
    return half(f"ludb-{int(record)}", seed)
