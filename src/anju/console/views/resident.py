"""The resident first: what the incident page shows and offers about the person before anything else.

The profile, who to call and how (a bridged call when a voice provider can bridge, a ``tel:`` link
always), the key holder on demand, and the call script for the incident's alert kind.
"""

from __future__ import annotations

from typing import Any

from anju.console.page import Page
from anju.dispatch import access, call_script
from anju.notify.bridge import bridge_provider
from anju.store.models import Household, Incident
from anju.vocabulary import is_chinese


def script_view(rule: str, lang: str) -> dict[str, Any]:
    """The incident's call script in the page's language."""
    script = call_script.script_for(rule)
    zh = is_chinese(lang)

    def say(label: Any) -> str:
        return str(label.zh if zh else label.en)

    return {
        "opening": say(script.opening),
        "questions": [
            {"key": q.key, "text": say(q.text), "answers": [(v, say(a)) for v, a in q.answers.items()]}
            for q in script.questions
        ],
    }


def resident_context(page: Page, incident: Incident, household: Household) -> dict[str, Any]:
    """Template values for the resident card and the call script of ``incident``."""
    user = page.user
    assert user is not None
    can_record = access.note_refusal(user, incident) is None
    bridge = can_record and bridge_provider(page.ctx) is not None
    config = {
        "calls_url": f"/api/v1/incidents/{incident.id}/calls",
        "outcome_url": f"/api/v1/incidents/{incident.id}/call-outcome",
        "access_url": f"/api/v1/households/{household.id}/access",
        "desk_phone_url": "/api/v1/users/me/desk-phone",
        "incident_id": incident.id,
        "desk_phone": user.desk_phone or "",
    }
    return {
        "this_year": page.ctx.clock.now().astimezone(page.ctx.settings.tz).year,
        "can_bridge": bridge,
        "can_record_call": can_record,
        "desk_phone": user.desk_phone,
        "script": script_view(incident.rule, page.lang),
        "resident_config": config,
        "call_summary": lambda data: call_script.summary(
            data.get("answers") or {}, str(data.get("rule", "")), page.lang
        ),
    }
