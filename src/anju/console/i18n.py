"""The console's message catalog (zh-CN first, English second) and language choice."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from anju import vocabulary

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANG_COOKIE = "anju_lang"

log = logging.getLogger(__name__)

#: key -> (zh-CN, English). Placeholders use str.format names; both languages carry the same ones.
CATALOG: dict[str, tuple[str, str]] = {
    "app.name": ("安居守护 · 值班台", "Anju · Operations console"),
    "lang.zh-CN": ("中文", "中文"),
    "lang.en": ("English", "English"),
    # page titles
    "title.login": ("登录", "Sign in"),
    "title.queue": ("值班队列", "Live queue"),
    "title.my_incidents": ("我的任务", "My incidents"),
    "title.incident": ("事件详情", "Incident"),
    "title.households": ("住户", "Households"),
    "title.household": ("住户详情", "Household"),
    "title.devices": ("设备维护", "Devices"),
    "title.reports": ("报表", "Reports"),
    "title.responder": ("现场处置", "On-site response"),
    "title.error": ("出错了", "Error"),
    # navigation
    "nav.queue": ("值班队列", "Queue"),
    "nav.my_incidents": ("我的任务", "My incidents"),
    "nav.households": ("住户", "Households"),
    "nav.devices": ("设备", "Devices"),
    "nav.reports": ("报表", "Reports"),
    "nav.logout": ("退出", "Sign out"),
    # roles
    "role.operator": ("值班员", "operator"),
    "role.supervisor": ("主管", "supervisor"),
    "role.admin": ("管理员", "admin"),
    "role.responder": ("处置人员", "responder"),
    # login
    "login.subtitle": ("独居老人居家安全 7×24 值守", "7×24 home-safety watch for older people living alone"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.error_invalid": ("用户名或密码不正确。", "Wrong username or password."),
    "login.error_throttled": (
        "登录失败次数过多，请稍后再试。",
        "Too many failed sign-ins; wait a few minutes and try again.",
    ),
    "login.error_origin": (
        "登录请求来源不正确，请刷新页面后重试。",
        "The sign-in came from another site; reload and try again.",
    ),
    "login.expired": ("登录已过期，请重新登录。", "Your session has ended; please sign in again."),
    # errors
    "error.back": ("返回首页", "Back to the start page"),
    "error.not_found": ("找不到该记录", "Not found"),
    "error.forbidden": ("您的角色无权查看此页", "Your role may not see this page"),
    "error.link_expired": ("链接已过期，请联系值班中心。", "This link has expired; please call the center."),
    "error.link_forged": ("链接无效。", "This link is not valid."),
    "error.link_malformed": (
        "链接不完整，请检查短信中的完整链接。",
        "This link is incomplete; check the full link in the SMS.",
    ),
    "error.link_not_yours": ("该事件已不再分派给您。", "This incident is no longer assigned to you."),
    # common
    "common.none": ("无", "none"),
    "common.nobody": ("无人", "nobody"),
    "common.loading": ("加载中…", "Loading…"),
    # column headings
    "col.severity": ("级别", "Severity"),
    "col.household": ("住户", "Household"),
    "col.rule": ("规则", "Rule"),
    "col.state": ("状态", "State"),
    "col.raised": ("发生", "Raised"),
    "col.next_escalation": ("下次升级", "Next escalation"),
    "col.owner": ("负责人", "Owner"),
    "col.actions": ("操作", "Actions"),
    "col.follow_up_due": ("回访期限", "Follow-up due"),
    "col.outcome": ("处置结果", "Outcome"),
    "col.at": ("触发时间", "Fired at"),
    "col.device": ("设备", "Device"),
    "col.evidence": ("依据", "Evidence"),
    "col.time": ("时间", "Time"),
    "col.location": ("位置", "Location"),
    "col.event": ("事件", "Event"),
    "col.battery": ("电量", "Battery"),
    "col.channel": ("渠道", "Channel"),
    "col.recipient": ("接收人", "Recipient"),
    "col.status": ("状态", "Status"),
    "col.attempts": ("尝试次数", "Attempts"),
    "col.id": ("编号", "ID"),
    "col.name": ("名称", "Name"),
    "col.kind": ("类型", "Type"),
    "col.last_seen": ("最后上报", "Last seen"),
    "col.signal": ("信号", "Signal"),
    "col.protocol": ("协议", "Protocol"),
    "col.first_seen": ("首次出现", "First seen"),
    "col.messages": ("消息数", "Messages"),
    "col.topic": ("主题", "Topic"),
    "col.payload": ("内容开头", "Payload (start)"),
    "col.reason": ("原因", "Reason"),
    "col.size": ("字节", "Bytes"),
    # vocabulary from the domain (rules, severities, kinds, events, rooms and steps: anju.vocabulary)
    "state.open": ("待响应", "open"),
    "state.acknowledged": ("已接警", "acknowledged"),
    "state.dispatched": ("已派遣", "dispatched"),
    "state.resolved": ("已处置", "resolved"),
    "state.follow_up": ("回访中", "follow-up"),
    "state.closed": ("已结案", "closed"),
    "outcome.false_alarm": ("误报", "false alarm"),
    "outcome.resident_well": ("老人平安", "resident well"),
    "outcome.assisted_at_home": ("上门协助", "assisted at home"),
    "outcome.taken_to_hospital": ("送医", "taken to hospital"),
    "outcome.deceased": ("已故", "deceased"),
    "outcome.device_fault": ("设备故障", "device fault"),
    "outcome.other": ("其他", "other"),
    "channel.sms": ("短信", "SMS"),
    "channel.voice": ("语音电话", "voice call"),
    "channel.dingtalk": ("钉钉", "DingTalk"),
    "channel.console": ("值班台", "console"),
    "nstatus.pending": ("待发送", "pending"),
    "nstatus.sending": ("发送中", "sending"),
    "nstatus.sent": ("已发送", "sent"),
    "nstatus.queued": ("排队中", "queued"),
    "nstatus.delivered": ("已送达", "delivered"),
    "nstatus.undelivered": ("未送达", "undelivered"),
    "nstatus.failed": ("失败", "failed"),
    "nstatus.no_answer": ("无人接听", "no answer"),
    "nstatus.busy": ("占线", "busy"),
    "nstatus.answered": ("已接听", "answered"),
    "nstatus.not_sent": ("未发送（未配置短信通道）", "not sent (no SMS provider configured)"),
    "relation.family": ("家属", "family"),
    "relation.son": ("儿子", "son"),
    "relation.daughter": ("女儿", "daughter"),
    "relation.spouse": ("配偶", "spouse"),
    "relation.neighbour": ("邻居", "neighbour"),
    "relation.grid_worker": ("网格员", "grid worker"),
    "relation.community": ("社区工作人员", "community worker"),
    "relation.ambulance": ("急救", "ambulance"),
    "relation.police": ("警察", "police"),
    "relation.doctor": ("家庭医生", "family doctor"),
    "relation.other": ("其他", "other"),
    "timeline.opened": ("系统预警", "raised"),
    "timeline.alert_joined": ("新告警并入", "alert joined"),
    "timeline.transition": ("状态变更", "state change"),
    "timeline.note": ("备注", "note"),
    "timeline.owner": ("负责人变更", "owner changed"),
    "timeline.owner_transfer": ("移交负责人", "handed over"),
    "timeline.handover": ("交接", "hand-over"),
    "timeline.arrived": ("到达现场", "arrived on site"),
    "timeline.escalation": ("升级通知", "escalation step"),
    "timeline.escalated": ("升级通知", "escalation step"),
    "timeline.notification": ("通知", "notification"),
    "timeline.follow_up_done": ("回访完成", "follow-up done"),
    "timeline.follow_up_waived": ("免回访", "follow-up waived"),
    "timeline.sms_reply": ("短信回复", "SMS reply"),
    "timeline.other": ("记录", "entry"),
    "timeline.alarm_path_degraded": vocabulary.RULES["alarm_path"],
    "timeline.alarm_path_recovered": ("报警链路恢复", "alarm path recovered"),
    # the alarm path's health banner (every page, every staff user)
    "health.banner": (
        "报警链路异常：新的告警可能无法及时送达，请按应急预案处置。",
        "Alarm path degraded: new alarms may not get through in time; follow the contingency plan.",
    ),
    # actors the system writes on the timeline (people appear by their user name)
    "actor.system": ("系统", "system"),
    "actor.escalation": ("自动升级", "escalation"),
    "actor.cli": ("命令行", "command line"),
    "incident.step_repeat": ("重复提醒", "repeated"),
    # alert evidence (the engine's detail keys)
    "evidence.device_id": ("设备", "device"),
    "evidence.device": ("设备", "device"),
    "evidence.location": ("位置", "location"),
    "evidence.event": ("事件", "event"),
    "evidence.kind": ("类型", "kind"),
    "evidence.local_time": ("当地时间", "local time"),
    "evidence.door_id": vocabulary.DEVICE_KINDS["door"],
    "evidence.threshold_s": ("阈值（秒）", "threshold (s)"),
    "evidence.threshold": ("阈值", "threshold"),
    "evidence.threshold_source": ("阈值来源", "threshold from"),
    "evidence.last_activity": ("最后活动", "last activity"),
    "evidence.wake_source": ("起床时间来源", "wake time from"),
    "evidence.usual_night_events": ("平时夜间事件数", "usual night events"),
    "evidence.usual_events": ("平时事件数", "usual events"),
    "evidence.silent_for_s": ("静默（秒）", "silent for (s)"),
    "evidence.reported_by": ("上报设备", "reported by"),
    "evidence.ratio": ("比例", "ratio"),
    "evidence.opened_at": ("开门时间", "opened at"),
    "evidence.open_for_s": ("开门时长（秒）", "open for (s)"),
    "evidence.no_motion_for_s": ("无活动（秒）", "no motion for (s)"),
    "evidence.night_window": ("夜间时段", "night window"),
    "evidence.night_events": ("夜间事件数", "night events"),
    "evidence.missed_intervals": ("漏报心跳次数", "missed heartbeats"),
    "evidence.margin_s": ("余量（秒）", "margin (s)"),
    "evidence.left_at": ("离家时间", "left at"),
    "evidence.last_seen": ("最后上报", "last seen"),
    "evidence.heartbeat_s": ("心跳间隔（秒）", "heartbeat (s)"),
    "evidence.factor": ("倍数", "factor"),
    "evidence.events": ("事件数", "events"),
    "evidence.deadline_local": ("最迟时间（当地）", "deadline (local)"),
    "evidence.day_part": ("时段", "day part"),
    "evidence.closed_at": ("关门时间", "closed at"),
    "evidence.battery": ("电量", "battery"),
    "evidence.away_for_s": ("外出时长（秒）", "away for (s)"),
    # queue page
    "queue.title": ("值班队列", "Live queue"),
    "queue.connecting": ("连接中…", "connecting…"),
    "queue.live": ("实时", "live"),
    "queue.reconnecting": ("连接中断，正在重连…", "connection lost, reconnecting…"),
    "queue.enable_alerts": ("开启提示音和桌面通知", "Enable sound and notifications"),
    "queue.alerts_on": (
        "提示音已开启；新的紧急事件会响铃并弹出通知。",
        "Sound is on; a new critical incident chimes and pops up a notification.",
    ),
    "queue.alerts_off": ("提示音已关闭。", "Sound is off."),
    "queue.alerts_blocked": (
        "浏览器拒绝了桌面通知，只有提示音。",
        "The browser refused notifications; sound only.",
    ),
    "queue.shortcuts": ("快捷键", "Shortcuts"),
    "queue.active": ("待处理", "Active"),
    "queue.empty": ("当前没有待处理事件。", "No active incidents."),
    "queue.awaiting_close": ("待回访 / 待结案", "Awaiting follow-up or closing"),
    "queue.none_awaiting": ("没有待回访或待结案的事件。", "Nothing awaits follow-up or closing."),
    "queue.overdue": ("已超时 {time}", "overdue {time}"),
    "queue.not_scheduled": ("—", "—"),
    "queue.new_critical": ("新的紧急事件", "New critical incident"),
    "queue.new_critical_body": ("{household}：{rule}", "{household}: {rule}"),
    "queue.open_it": ("打开", "Open it"),
    "queue.ago": ("{time}前", "{time} ago"),
    "shortcut.next": ("下一条", "next incident"),
    "shortcut.prev": ("上一条", "previous incident"),
    "shortcut.open": ("打开选中事件", "open the selected incident"),
    "shortcut.ack": ("确认接警（选中事件）", "acknowledge the selected incident"),
    "shortcut.sound": ("开启 / 关闭提示音", "sound on / off"),
    "shortcut.search": ("搜索住户", "search households"),
    "shortcut.help": ("显示 / 隐藏快捷键", "show / hide shortcuts"),
    "shortcut.incident_page": (
        "事件页：每个按钮上标有快捷键；Esc 返回队列。",
        "On an incident page each button shows its key; Esc returns to the queue.",
    ),
    # durations
    "dur.s": ("{s}秒", "{s}s"),
    "dur.ms": ("{m}分{s}秒", "{m}m {s}s"),
    "dur.hm": ("{h}小时{m}分", "{h}h {m}m"),
    "dur.dh": ("{d}天{h}小时", "{d}d {h}h"),
    # incident page
    "incident.title": ("事件 #{id}", "Incident #{id}"),
    "incident.household": ("住户", "Household"),
    "incident.responder": ("处置人", "Responder"),
    "incident.arrived_at": ("到达现场", "Arrived"),
    "incident.actions": ("处置操作", "Actions"),
    "incident.responder_pick": ("从联系人中选择", "Pick a contact"),
    "incident.responder_other": ("其他人（手填）", "someone else (type below)"),
    "incident.responder_name": ("姓名", "Name"),
    "incident.responder_kind": ("身份", "Role"),
    "incident.choose_outcome": ("请选择处置结果", "choose an outcome"),
    "incident.waive_reason": (
        "免回访原因（直接结案时填写）",
        "Reason to skip the follow-up (when closing now)",
    ),
    "incident.note": ("备注", "Note"),
    "incident.note_placeholder": ("电话、现场情况、交接说明……", "calls made, what was found, hand-over…"),
    "incident.no_transitions": ("当前状态下没有可执行的操作。", "No action is possible in this state."),
    "incident.shortcut_hint": (
        "按钮上的字母是快捷键（输入框外有效）；Esc 返回队列。",
        "The letter on each button is its key (outside text fields); Esc returns to the queue.",
    ),
    "incident.alerts": ("告警与依据", "Alerts and evidence"),
    "handover.title": ("移交事件", "Hand over"),
    "handover.to": ("移交给", "Hand over to"),
    "handover.choose": ("请选择值班员", "choose an operator"),
    "handover.note": ("交接说明", "Hand-over note"),
    "handover.note_placeholder": ("为什么移交、对方需要知道什么", "why, and what they need to know"),
    "handover.submit": ("移交", "Hand over"),
    "incident.sensor_events": ("最近 {hours} 小时传感器事件", "Sensor events, last {hours} hours"),
    "incident.no_sensor_events": ("这段时间没有传感器事件。", "No sensor events in this period."),
    "incident.timeline": ("处置记录", "Timeline"),
    "incident.notifications": ("通知与送达状态", "Notifications and delivery"),
    "incident.no_notifications": ("尚无通知。", "No notifications yet."),
    # actions (by target state, plus the extra steps)
    "action.acknowledged": ("确认接警", "Acknowledge"),
    "action.dispatched": ("派遣上门", "Dispatch"),
    "action.resolved": ("处置完成", "Resolve"),
    "action.follow_up": ("转入回访", "Follow up"),
    "action.closed": ("结案", "Close"),
    "action.arrived": ("已到达现场", "Arrived on site"),
    "action.follow_up_done": ("回访已完成", "Follow-up done"),
    "action.add_note": ("添加备注", "Add note"),
    "action.failed": ("操作失败：{reason}", "The action failed: {reason}"),
    "action.conflict": (
        "该事件已被他人更新，页面已刷新。",
        "Someone else changed this incident; the page was reloaded.",
    ),
    "action.need_outcome": ("请选择处置结果。", "Choose an outcome."),
    "action.need_note": ("请填写备注。", "Write a note."),
    "action.need_responder": ("请填写处置人姓名。", "Name the responder."),
    "action.need_handover_user": ("请选择接手的值班员。", "Choose who takes it over."),
    "action.forbidden": ("您的角色不能执行此操作。", "Your role may not do this."),
    "action.network": ("网络错误，请重试。", "Network error; try again."),
    "action.done": ("已完成。", "Done."),
    # households
    "households.title": ("住户", "Households"),
    "households.search": ("搜索", "Search"),
    "households.search_placeholder": ("姓名、地址或片区", "name, address or area"),
    "households.count": ("显示 {shown} / 共 {total} 户", "showing {shown} of {total}"),
    "households.open_incident": ("进行中的事件", "Open incident"),
    "households.none_found": ("没有符合条件的住户。", "No household matches."),
    "household.address": ("地址", "Address"),
    "household.area": ("片区", "Area"),
    "household.monitoring": ("监护", "Monitoring"),
    "household.ok": ("正常", "normal"),
    "household.degraded": ("监护降级", "degraded"),
    "household.degraded_long": (
        "监护降级：有传感器离线，可能漏报",
        "Monitoring degraded: a sensor is offline, alarms may be missed",
    ),
    "household.monitoring_ok": ("监护正常", "Monitoring normal"),
    "household.residents": ("居住老人", "Residents"),
    "household.born": ("{year}年生", "born {year}"),
    "household.contacts": ("紧急联系人（按顺序）", "Contacts (in calling order)"),
    "household.heatmap": ("近 {days} 天活动热力图", "Activity over the last {days} days"),
    "household.heatmap_hint": (
        "每格为一小时内的传感器事件数（{tz}），颜色越深越活跃。",
        "Each cell counts one hour's sensor events ({tz}); darker is busier.",
    ),
    "household.devices": ("设备", "Devices"),
    "household.no_devices": ("没有登记设备。", "No devices registered."),
    "household.rule_overrides": ("规则个性化设置", "Rule overrides"),
    "household.no_overrides": ("使用默认规则。", "Default rules apply."),
    "household.incidents": ("最近事件", "Recent incidents"),
    "household.timeline": ("最近 {hours} 小时传感器事件", "Sensor events, last {hours} hours"),
    "household.no_events": ("这段时间没有传感器事件。", "No sensor events in this period."),
    "heatmap.day": ("{date}", "{date}"),
    "heatmap.cell": ("{date} {hour}时：{count} 次", "{date} {hour}:00 — {count} events"),
    "heatmap.hours": ("时", "h"),
    # devices
    "device.never": ("从未上报", "never"),
    "device.online": ("在线", "online"),
    "device.offline": vocabulary.EVENTS["offline"],
    "devices.title": ("设备维护清单", "Installers' work list"),
    "devices.subtitle": (
        "离线、低电量、未登记的设备和无法解析的消息。",
        "Offline, low-battery and unknown devices, and messages that could not be read.",
    ),
    "devices.offline": ("离线设备", "Offline devices"),
    "devices.none_offline": ("没有离线设备。", "No device is offline."),
    "devices.low_battery": ("低电量（低于 {threshold}%）", "Low battery (under {threshold}%)"),
    "devices.none_low": ("没有低电量设备。", "No battery is low."),
    "devices.unknown": ("未登记设备", "Unknown devices"),
    "devices.none_unknown": ("没有未登记设备。", "No unknown device."),
    "devices.dead_letters": ("无法解析的消息", "Dead letters"),
    "devices.none_dead": ("没有无法解析的消息。", "No dead letters."),
    "devices.dead_shown": ("显示最近 {shown} 条，共 {total} 条。", "Showing the latest {shown} of {total}."),
    # reports
    "reports.title": ("服务质量报表", "Service-level report"),
    "reports.since": ("起", "From"),
    "reports.until": ("止", "To"),
    "reports.apply": ("查询", "Show"),
    "reports.export_csv": ("导出 CSV", "Export CSV"),
    "reports.export_xlsx": ("导出 Excel", "Export XLSX"),
    "reports.summary": ("概况", "Summary"),
    "reports.incidents": ("事件总数", "incidents"),
    "reports.critical": ("紧急事件", "critical incidents"),
    "reports.within_60": ("紧急事件 60 秒内接警", "critical acknowledged within 60 s"),
    "reports.within_180": ("紧急事件 180 秒内接警", "critical acknowledged within 180 s"),
    "reports.stage": ("环节", "Stage"),
    "reports.count": ("件数", "Count"),
    "reports.median": ("中位数", "Median"),
    "reports.p90": ("90 分位", "90th percentile"),
    "reports.max": ("最长", "Longest"),
    "reports.stage_acknowledged": ("发生 → 接警", "raised → acknowledged"),
    "reports.stage_dispatched": ("发生 → 派遣", "raised → dispatched"),
    "reports.stage_arrived": ("发生 → 到达", "raised → arrived"),
    "reports.stage_closed": ("发生 → 结案", "raised → closed"),
    "reports.warnings_pushed": ("预警推送", "alerts raised"),
    "reports.real_emergencies": ("真实紧急情况", "real emergencies"),
    "reports.open_incidents": ("尚未结案", "not yet closed"),
    "reports.follow_ups_on_time": ("按时回访 / 已回访", "follow-ups on time / done"),
    "reports.follow_ups_overdue": ("回访逾期", "follow-ups overdue"),
    "reports.same_as_export": (
        "本页数字与导出文件、接口 /api/v1/reports/sla 出自同一计算。",
        "The figures here, the exports and /api/v1/reports/sla come from one computation.",
    ),
    "reports.target_note": (
        "目标（英国 TEC 规范）：97.5% 的报警 60 秒内接听，99% 在 180 秒内。",
        "Target (UK TEC code): 97.5% of alarm calls answered within 60 s, 99% within 180 s.",
    ),
    "reports.ack_chart": ("紧急事件接警用时", "Time to acknowledge critical incidents"),
    "reports.rule_chart": ("每周事件数（按规则）", "Incidents per week by rule"),
    "reports.outcome_chart": ("处置结果", "Outcomes"),
    "chart.no_data": ("这段时间没有数据。", "No data in this period."),
    "chart.seconds": ("秒", "seconds"),
    "chart.line_60": ("60 秒", "60 s"),
    "chart.line_180": ("180 秒", "180 s"),
    "chart.not_acknowledged": ("未接警", "not acknowledged"),
    "chart.bar_title": ("#{id} {time}：{value}", "#{id} {time}: {value}"),
    "chart.week": ("{date} 周", "week of {date}"),
    "chart.count_title": ("{label}：{count}", "{label}: {count}"),
    "chart.pending": ("尚无结果", "no outcome yet"),
    # import
    "import.title": ("批量导入住户", "Import households"),
    "import.help": (
        "上传 CSV 或 Excel（第一行为表头）。同一住户编号的多行依次追加老人和联系人。"
        "任何一行有错误时全部不导入，并列出所有错误行。",
        "Upload CSV or XLSX (header in the first row). Several rows with the same household id add residents "
        "and contacts in turn. If any row is wrong, nothing is imported and every bad row is listed.",
    ),
    "import.submit": ("导入", "Import"),
    "import.ok": (
        "已导入 {households} 户，{residents} 位老人，{contacts} 位联系人。",
        "Imported {households} households, {residents} residents, {contacts} contacts.",
    ),
    "import.failed": (
        "发现 {count} 处错误，未导入任何数据。",
        "{count} problems found; nothing was imported.",
    ),
    "import.row": ("行", "Row"),
    "import.column": ("列", "Column"),
    "import.problem": ("问题", "Problem"),
    "import.err.required": ("必填", "required"),
    "import.err.bad_id": (
        "编号只能包含字母、数字、_ . -，最多 64 个字符",
        "ids are 1–64 characters of A-Z a-z 0-9 _ . -",
    ),
    "import.err.exists": ("该住户编号已存在", "this household id already exists"),
    "import.err.conflict": (
        "与同一住户前面行的值不一致",
        "differs from an earlier row of the same household",
    ),
    "import.err.bad_phone": ("电话号码格式不对", "not a phone number"),
    "import.err.bad_year": ("出生年份不对", "not a plausible birth year"),
    "import.err.bad_number": ("应为整数", "must be a whole number"),
    "import.err.bad_timezone": ("未知时区", "unknown time zone"),
    "import.err.too_long": ("太长（最多 {max} 个字符）", "too long (at most {max} characters)"),
    "import.err.incomplete": ("姓名和电话要同时填写", "name and phone go together"),
    "import.err.unknown_column": ("无法识别的列", "unknown column"),
    "import.err.missing_column": ("缺少必需的列", "a required column is missing"),
    "import.err.bad_file": (
        "无法读取文件（仅支持 UTF-8 CSV 和 XLSX）",
        "cannot read the file (UTF-8 CSV or XLSX only)",
    ),
    "import.err.empty": ("文件中没有数据行", "the file has no data rows"),
    "import.err.too_many": ("行数太多（最多 {max} 行）", "too many rows (at most {max})"),
    "import.err.language": ("语言只能是 zh-CN 或 en", "language must be zh-CN or en"),
    # responder page
    "responder.title": ("现场处置", "On-site response"),
    "responder.for": ("{name}，您好", "For {name}"),
    "responder.valid_until": ("链接有效期至 {time}", "link valid until {time}"),
    "responder.center": ("值班中心", "the center"),
    "responder.nothing_to_do": (
        "此事件目前无需您操作。谢谢！",
        "Nothing for you to do on this incident now. Thank you!",
    ),
}
CATALOG.update(vocabulary.catalog())

#: Keys the browser scripts use; sent to the page as JSON.
JS_PREFIXES = (
    "queue.",
    "dur.",
    "action.",
    "severity.",
    "state.",
    "rule.",
    "outcome.",
    "import.",
    "common.",
    "error.",
    "health.",
)


def translate(lang: str, key: str, **params: Any) -> str:
    """The text for ``key`` in ``lang``; a missing key shows itself (and is logged) instead of crashing."""
    entry = CATALOG.get(key)
    if entry is None:
        log.warning("console catalog has no key %r", key)
        return key
    text = entry[0] if lang == "zh-CN" else entry[1]
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        log.warning("console catalog key %r does not take %r", key, sorted(params))
        return text


def translate_or(lang: str, prefix: str, value: str) -> str:
    """A catalog word for free-ish values (relations, timeline kinds); the value itself when unknown."""
    key = f"{prefix}.{value}"
    return translate(lang, key) if key in CATALOG else value


def js_catalog(lang: str) -> dict[str, str]:
    """The part of the catalog the page scripts need, in one language."""
    index = 0 if lang == "zh-CN" else 1
    return {k: v[index] for k, v in CATALOG.items() if k.startswith(JS_PREFIXES)}


def normalize(value: str | None) -> str | None:
    """A supported language for ``value`` (``en``, ``en-US``, ``zh``, ``zh-CN``…), else None."""
    if not value:
        return None
    low = value.strip().lower()
    if low.startswith("zh"):
        return "zh-CN"
    if low.startswith("en"):
        return "en"
    return None


def pick_language(request: Request, fallback: str | None = None) -> str:
    """``?lang=`` first, then the cookie, then the user's own setting, then zh-CN."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), fallback):
        lang = normalize(candidate)
        if lang:
            return lang
    return DEFAULT_LANGUAGE


def languages_of(catalog: Mapping[str, tuple[str, str]] = CATALOG) -> dict[str, int]:
    """How many keys each language fills (for tests and the docs)."""
    return {lang: sum(1 for v in catalog.values() if v[i].strip()) for i, lang in enumerate(LANGUAGES)}
