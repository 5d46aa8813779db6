"""The simulated fleet's areas: district / town / village paths, as a center's homes are filed.

The console groups its queue and overview by these three levels (``anju.console.overview``).
"""

from __future__ import annotations

#: (district, town, villages): twelve villages in five towns of two districts.
AREAS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("徐汇区", "天平街道", ("天平村", "永嘉社区")),
    ("徐汇区", "湖南路街道", ("复兴社区", "武康社区")),
    ("徐汇区", "华泾镇", ("港口村", "北杨村", "华泾村")),
    ("松江区", "泗泾镇", ("古楼村", "张施村")),
    ("松江区", "新浜镇", ("胡家埭村", "许家草村", "新浜村")),
)
_VILLAGES = tuple(
    f"{district} / {town} / {village}" for district, town, villages in AREAS for village in villages
)


def village_of(index: int) -> int:
    """The number of the village of the fleet's ``index``-th home (0 to the number of villages - 1)."""
    return index % len(_VILLAGES)


def area_of(index: int) -> str:
    """The area of the fleet's ``index``-th home: neighbours by index share a village."""
    return _VILLAGES[village_of(index)]
