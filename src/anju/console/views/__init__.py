"""The console's pages: server-rendered Jinja2 views over the ORM, one module per screen or two.

``router`` carries them all, in the order they are matched: the responder's phone page, signing in
and out, the queue and incidents, households, devices, reports.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from anju.console import export
from anju.console.responder import router as responder_router
from anju.console.views import devices, household_edit, households, incidents, reports, shift, signin

STATIC_DIR = Path(__file__).parent.parent / "static"

router = APIRouter(include_in_schema=False)
router.include_router(responder_router)
router.include_router(signin.router)
router.include_router(incidents.router)
# Before households: /households/new is not a household id.
router.include_router(household_edit.router)
router.include_router(households.router)
router.include_router(devices.router)
router.include_router(reports.router)
router.include_router(export.router)
router.include_router(shift.router)
