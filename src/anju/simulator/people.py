"""The demo's people: a resident with a full profile, family, a grid worker and a key holder per home.

Everything is written in Chinese, as a Chinese centre enters it, with an English rendering in
``translations["en"]`` so that the English console shows no Chinese. Phone numbers are in
+86 170x, a block handed out to virtual operators and unused by these fictional people.
The same household index always gives the same people; the homes of a village share their grid worker.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from anju.simulator.areas import village_of

SURNAMES = (
    ("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"),
    ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"), ("徐", "Xu"), ("孙", "Sun"),
    ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"), ("郭", "Guo"), ("何", "He"), ("高", "Gao"),
    ("林", "Lin"), ("罗", "Luo"), ("郑", "Zheng"), ("梁", "Liang"), ("谢", "Xie"), ("宋", "Song"),
)  # fmt: skip
WOMEN = (
    ("桂英", "Guiying"), ("秀英", "Xiuying"), ("玉兰", "Yulan"), ("淑芬", "Shufen"), ("凤英", "Fengying"),
    ("秀兰", "Xiulan"), ("翠花", "Cuihua"), ("美华", "Meihua"), ("丽华", "Lihua"), ("惠珍", "Huizhen"),
)  # fmt: skip
MEN = (
    ("建国", "Jianguo"), ("国强", "Guoqiang"), ("德明", "Deming"), ("福生", "Fusheng"), ("志刚", "Zhigang"),
    ("长林", "Changlin"), ("文华", "Wenhua"), ("永福", "Yongfu"), ("宝山", "Baoshan"), ("荣发", "Rongfa"),
)  # fmt: skip
CHILDREN = (("明", "Ming"), ("伟", "Wei"), ("静", "Jing"), ("丽", "Li"), ("强", "Qiang"), ("敏", "Min"))
#: One grid worker per village (``areas.village_of``): one person, a contact of every home there.
GRID_WORKERS = (
    ("刘晓东", "Liu Xiaodong"), ("陈静", "Chen Jing"), ("周立", "Zhou Li"), ("许明", "Xu Ming"),
    ("孙丽娟", "Sun Lijuan"), ("赵刚", "Zhao Gang"), ("钱芳", "Qian Fang"), ("吴海涛", "Wu Haitao"),
    ("郑敏", "Zheng Min"), ("冯建军", "Feng Jianjun"), ("蒋婷", "Jiang Ting"), ("韩磊", "Han Lei"),
)  # fmt: skip
DIALECTS = (
    ("上海话", "Shanghainese"),
    ("普通话", "Mandarin"),
    ("苏州话", "Suzhounese"),
    ("宁波话", "Ningbonese"),
)
MEDICAL = (
    ("高血压", "high blood pressure"),
    ("2 型糖尿病", "type 2 diabetes"),
    ("冠心病，装有心脏支架", "coronary heart disease, has a stent"),
    ("轻度认知障碍", "mild cognitive impairment"),
    ("骨质疏松，2023 年髋部骨折", "osteoporosis, broke a hip in 2023"),
    ("慢性阻塞性肺病", "COPD"),
)
MEDICATION = (
    ("氨氯地平 5mg，每日一次", "amlodipine 5 mg once a day"),
    ("二甲双胍 500mg，每日两次", "metformin 500 mg twice a day"),
    ("阿司匹林 100mg，每日一次（抗凝，出血风险）", "aspirin 100 mg once a day (bleeding risk)"),
    ("多奈哌齐 5mg，睡前", "donepezil 5 mg at bedtime"),
    ("钙片和维生素 D", "calcium and vitamin D"),
)
HOSPITALS = (
    ("徐汇区中心医院", "Xuhui District Central Hospital"),
    ("复旦大学附属中山医院", "Zhongshan Hospital, Fudan University"),
    ("上海市第六人民医院", "Shanghai Sixth People's Hospital"),
    ("瑞金医院", "Ruijin Hospital"),
)
MOBILITY = ("independent", "independent", "walking_aid", "walking_aid", "wheelchair", "bedridden")
HEARING = ("normal", "normal", "hard_of_hearing", "hard_of_hearing", "deaf")


@dataclass(frozen=True, slots=True)
class People:
    """One home's texts and people, as the store's ``create_household`` takes them."""

    name: str
    address: str
    key_holder: str
    access_notes: str
    translations: dict[str, Any]
    resident: dict[str, Any]
    contacts: tuple[dict[str, Any], ...]


def phone(block: int, index: int) -> str:
    """``+86 170{block} xxxx xxx``: resident (0), family (1), grid worker (2, per village), neighbour (3)."""
    return f"+86170{block}{index % 10_000_000:07d}"


def people_for(index: int, seed: int = 1) -> People:
    """The people of household ``index`` (0-based)."""
    rng = random.Random(f"people:{seed}:{index}")
    surname, surname_en = SURNAMES[rng.randrange(len(SURNAMES))]
    woman = index % 2 == 0
    given, given_en = rng.choice(WOMEN if woman else MEN)
    child, child_en = rng.choice(CHILDREN)
    village = village_of(index)
    grid, grid_en = GRID_WORKERS[village % len(GRID_WORKERS)]
    dialect, dialect_en = rng.choice(DIALECTS)
    hospital, hospital_en = rng.choice(HOSPITALS)
    conditions = rng.sample(MEDICAL, 2)
    drugs = rng.sample(MEDICATION, 2)
    building, room = index // 100 + 1, index % 100 + 1
    neighbour_room = room + 1 if room % 2 else room - 1
    name_en = f"{surname_en} {given_en}"
    resident = {
        "name": surname + given,
        "birth_year": 1932 + rng.randrange(18),
        "phone": phone(0, index),
        "mobility": rng.choice(MOBILITY),
        "hearing": rng.choice(HEARING),
        "dialect": dialect,
        "medical_notes": "；".join(c[0] for c in conditions),
        "medication": "；".join(d[0] for d in drugs),
        "preferred_hospital": hospital,
        "translations": {
            "en": {
                "name": name_en,
                "dialect": dialect_en,
                "medical_notes": "; ".join(c[1] for c in conditions),
                "medication": "; ".join(d[1] for d in drugs),
                "preferred_hospital": hospital_en,
            }
        },
    }
    contacts = (
        {
            "name": f"{surname}{child}",
            "relation": "daughter" if rng.random() < 0.5 else "son",
            "phone": phone(1, index),
            "priority": 0,
            "translations": {"en": {"name": f"{surname_en} {child_en}"}},
        },
        {
            "name": grid,
            "relation": "grid_worker",
            "phone": phone(2, village),  # the same person in every home of the village
            "priority": 1,
            "translations": {"en": {"name": grid_en}},
        },
    )
    return People(
        name=f"{surname}{given}家",
        address=f"模拟小区 {building} 号楼 {room:02d} 室",
        key_holder=f"对门邻居（{neighbour_room:02d} 室），电话 {phone(3, index)}",
        access_notes="物业值班室可开门，需出示工作证；门口无备用钥匙。",
        translations={
            "en": {
                "name": f"{name_en}'s home",
                "address": f"Simulated Estate, Building {building}, Flat {room:02d}",
                "key_holder": f"the neighbour opposite (flat {neighbour_room:02d}), phone {phone(3, index)}",
                "access_notes": (
                    "The estate office opens the door on sight of a staff card; no spare key outside."
                ),
            }
        },
        resident=resident,
        contacts=contacts,
    )
