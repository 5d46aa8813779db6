"""The households list, one household with its heatmap, and the installers' device work list."""

from __future__ import annotations

#: key -> (zh-CN, English), as in ``anju.console.i18n.CATALOG``.
ENTRIES: dict[str, tuple[str, str]] = {
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
    "devices.title": ("设备维护清单", "Installers' work list"),
    "devices.subtitle": (
        "离线、低电量、未登记的设备和无法解析的消息。",
        "Offline, low-battery and unknown devices, and messages that could not be read.",
    ),
    "devices.offline": ("离线或从未上报的设备", "Offline or never-reported devices"),
    "devices.none_offline": ("没有离线设备。", "No device is offline."),
    "devices.low_battery": ("低电量（低于 {threshold}%）", "Low battery (under {threshold}%)"),
    "devices.none_low": ("没有低电量设备。", "No battery is low."),
    "devices.unknown": ("未登记设备", "Unknown devices"),
    "devices.none_unknown": ("没有未登记设备。", "No unknown device."),
    "devices.dead_letters": ("无法解析的消息", "Dead letters"),
    "devices.none_dead": ("没有无法解析的消息。", "No dead letters."),
    "devices.dead_shown": ("显示最近 {shown} 条，共 {total} 条。", "Showing the latest {shown} of {total}."),
}
