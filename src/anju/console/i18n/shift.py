"""The shift's pages: the area overview, follow-ups and the shift hand-over."""

from __future__ import annotations

#: key -> (zh-CN, English), as in ``anju.console.i18n.CATALOG``.
ENTRIES: dict[str, tuple[str, str]] = {
    "title.areas": ("片区概览", "Areas"),
    "title.follow_ups": ("回访", "Follow-ups"),
    "title.handover": ("交接班", "Shift hand-over"),
    "nav.areas": ("片区", "Areas"),
    "nav.follow_ups": ("回访", "Follow-ups"),
    "nav.handover": ("交接班", "Hand-over"),
    # area overview
    "areas.title": ("片区概览", "Area overview"),
    "areas.subtitle": (
        "按区 › 街道（镇）› 社区（村）统计住户、进行中的事件和监护降级；点片区名打开该片区的队列。",
        "Homes, open incidents and degraded monitoring by district › town › village; "
        "a name opens that area's queue.",
    ),
    "areas.homes": ("住户", "Homes"),
    "areas.open": ("进行中事件", "Open incidents"),
    "areas.unacknowledged": ("未接警", "Unacknowledged"),
    "areas.degraded": ("监护降级", "Degraded monitoring"),
    "areas.devices_offline": ("离线或未上报设备", "Devices offline or silent"),
    # follow-ups
    "follow.title": ("回访", "Follow-ups"),
    "follow.subtitle": (
        "已处置事件的回访：逾期的在前。打开事件后点“回访已完成”。",
        "Follow-ups of resolved incidents, overdue first. Open one and press “Follow-up done”.",
    ),
    "follow.overdue": ("逾期未回访", "Overdue"),
    "follow.upcoming": ("待回访", "Due later"),
    "follow.none_overdue": ("没有逾期的回访。", "No follow-up is overdue."),
    "follow.none_upcoming": ("没有待回访的事件。", "No follow-up is due."),
    "follow.overdue_by": ("已逾期 {time}", "overdue by {time}"),
    # shift hand-over
    "handover.shift_title": ("交接班", "Shift hand-over"),
    "handover.shift_subtitle": (
        "给下一班留言；提交时会连同当前所有未结案事件一起记入审计日志。",
        "Leave a note for the next shift; it is recorded in the audit log with every open item.",
    ),
    "handover.leave_note": ("给下一班的交接说明", "Note for the next shift"),
    "handover.shift_placeholder": (
        "哪些事件要盯、谁在等回电、设备问题……",
        "what to watch, who is waiting for a call back, device problems…",
    ),
    "handover.shift_submit": ("提交交接", "Record the hand-over"),
    "handover.previous": ("最近的交接记录", "Recent hand-overs"),
    "handover.open_then": ("当时未结案 {n} 件", "{n} open then"),
    "handover.none_yet": ("还没有交接记录。", "No hand-over yet."),
}
