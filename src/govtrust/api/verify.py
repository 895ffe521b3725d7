"""HTTP routes: being written (see services/verify*.py)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter()
