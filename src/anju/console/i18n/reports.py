"""The service-level report page: figures, charts, and the household import it offers."""

from __future__ import annotations

#: key -> (zh-CN, English), as in ``anju.console.i18n.CATALOG``.
ENTRIES: dict[str, tuple[str, str]] = {
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
}
