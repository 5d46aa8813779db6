"""The call script per alert kind: what the operator says and asks, in zh-CN and English.

Each question has a closed set of answers, so what was learned on the phone is recorded as data
(the timeline entry ``call_outcome``) that a report can count, and may suggest the incident's
outcome. A rule without a script of its own uses the general one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from anju.domain import Outcome, Rule
from anju.vocabulary import Label, is_chinese


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    text: Label
    #: Answer value -> its words.
    answers: Mapping[str, Label]


@dataclass(frozen=True, slots=True)
class Script:
    opening: Label
    questions: tuple[Question, ...]


REACHED = Question(
    "reached",
    Label("是否接通本人？", "Did the resident answer?"),
    {
        "yes": Label("本人接听", "the resident answered"),
        "other_person": Label("他人接听", "someone else answered"),
        "no_answer": Label("无人接听", "no answer"),
        "busy": Label("占线或关机", "busy or switched off"),
    },
)
CONDITION = Question(
    "condition",
    Label("老人现在情况如何？", "How is the resident now?"),
    {
        "well": Label("平安无事", "safe and well"),
        "unwell": Label("身体不适", "feels unwell"),
        "injured": Label("摔倒或受伤", "fallen or injured"),
        "confused": Label("意识不清或答非所问", "confused or not making sense"),
        "unknown": Label("无法确认", "could not tell"),
    },
)
NEEDS = Question(
    "needs",
    Label("需要什么帮助？", "What help is needed?"),
    {
        "nothing": Label("不需要", "none"),
        "visit": Label("需要有人上门", "someone to visit"),
        "ambulance": Label("需要叫救护车（120）", "an ambulance (120)"),
        "family": Label("需要通知家属", "tell the family"),
    },
)
MISTAKE = Question(
    "mistake",
    Label("是否误按？", "Was the button pressed by mistake?"),
    {"yes": Label("误按", "pressed by mistake"), "no": Label("不是误按", "not a mistake")},
)
WHERE = Question(
    "where",
    Label("老人现在在哪里？", "Where is the resident now?"),
    {
        "home": Label("在家", "at home"),
        "out_safe": Label("在外面，安全", "out, safe"),
        "out_lost": Label("在外面，找不到路", "out and lost"),
        "unknown": Label("不清楚", "unknown"),
    },
)
DOOR = Question(
    "door",
    Label("门现在关好了吗？", "Is the door closed now?"),
    {
        "closed": Label("已关好", "closed now"),
        "will_close": Label("马上去关", "will close it"),
        "cannot": Label("关不上，需要帮助", "cannot close it, needs help"),
    },
)
DEVICE = Question(
    "device",
    Label("设备情况？", "What about the device?"),
    {
        "known": Label("老人知道（拔电、挪动等）", "the resident knows (unplugged, moved…)"),
        "unaware": Label("老人不知道", "the resident did not know"),
        "visit_needed": Label("需要安装人员上门", "an installer must visit"),
    },
)

GENERAL = Script(
    Label(
        "您好，这里是安居服务中心。我们的设备提示您家里可能有情况，您现在还好吗？",
        "Hello, this is the Anju care centre. Our sensors suggest "
        "something may be wrong at home. Are you all right?",
    ),
    (REACHED, CONDITION, NEEDS),
)

SCRIPTS: Mapping[str, Script] = {
    Rule.BUTTON: Script(
        Label(
            "您好，这里是安居服务中心，我们收到您家的紧急按钮报警。您还好吗？需要帮忙吗？",
            "Hello, this is the Anju care centre. Your alarm button was "
            "pressed. Are you all right? Do you need help?",
        ),
        (REACHED, MISTAKE, CONDITION, NEEDS),
    ),
    Rule.INACTIVITY: Script(
        Label(
            "您好，这里是安居服务中心。我们有一段时间没有看到您家里有活动，您身体还好吗？",
            "Hello, this is the Anju care centre. We have seen no "
            "movement at home for a while. Are you well?",
        ),
        (REACHED, CONDITION, WHERE, NEEDS),
    ),
    Rule.NO_MORNING_ACTIVITY: Script(
        Label(
            "您好，这里是安居服务中心。今天早上还没看到您起床活动，您身体还好吗？",
            "Hello, this is the Anju care centre. We have not seen you up this morning. Are you well?",
        ),
        (REACHED, CONDITION, WHERE, NEEDS),
    ),
    Rule.NIGHT_DOOR: Script(
        Label(
            "您好，这里是安居服务中心。您家的门夜里打开了，您现在在哪里？一切安全吗？",
            "Hello, this is the Anju care centre. Your front door opened during "
            "the night. Where are you now? Is everything safe?",
        ),
        (REACHED, WHERE, CONDITION, NEEDS),
    ),
    Rule.NOT_RETURNED: Script(
        Label(
            "您好，这里是安居服务中心。您出门已经很久了，您现在在哪里？能自己回家吗？",
            "Hello, this is the Anju care centre. You have been out for a "
            "long time. Where are you? Can you get home?",
        ),
        (REACHED, WHERE, CONDITION, NEEDS),
    ),
    Rule.DOOR_LEFT_OPEN: Script(
        Label(
            "您好，这里是安居服务中心。您家的门开着很久了，请问是忘记关门了吗？",
            "Hello, this is the Anju care centre. Your door has been open "
            "for a long time. Did you forget to close it?",
        ),
        (REACHED, DOOR, CONDITION, NEEDS),
    ),
    Rule.DEVICE_OFFLINE: Script(
        Label(
            "您好，这里是安居服务中心。您家的一个安全设备没有信号了，请问最近有没有拔掉电源或挪动设备？",
            "Hello, this is the Anju care centre. A safety device at your "
            "home has gone silent. Was it unplugged or moved?",
        ),
        (REACHED, DEVICE, CONDITION),
    ),
    Rule.LOW_BATTERY: Script(
        Label(
            "您好，这里是安居服务中心。您家的一个安全设备电量低，我们会安排人员上门更换电池。",
            "Hello, this is the Anju care centre. A safety device at your "
            "home is low on battery; we will arrange a visit.",
        ),
        (REACHED, DEVICE),
    ),
    Rule.TAMPER: Script(
        Label(
            "您好，这里是安居服务中心。您家的一个安全设备被拆动了，请问发生了什么？",
            "Hello, this is the Anju care centre. A safety device at "
            "your home was tampered with. What happened?",
        ),
        (REACHED, DEVICE, CONDITION, NEEDS),
    ),
}


def script_for(rule: str) -> Script:
    return SCRIPTS.get(rule, GENERAL)


def check_answers(rule: str, answers: Mapping[str, str]) -> dict[str, str]:
    """The answers in script order; ``ValueError`` names a question or answer the script lacks."""
    script = script_for(rule)
    known = {q.key: q for q in script.questions}
    unknown = sorted(set(answers) - set(known))
    if unknown:
        raise ValueError(f"the call script for {rule!r} has no question {', '.join(unknown)}")
    if not answers:
        raise ValueError("answer at least one question of the call script")
    for key, value in answers.items():
        if value not in known[key].answers:
            raise ValueError(f"{value!r} is not an answer to {key!r}: {', '.join(known[key].answers)}")
    return {q.key: answers[q.key] for q in script.questions if q.key in answers}


def suggested_outcome(answers: Mapping[str, str]) -> Outcome | None:
    """The resolution the answers point to, for the operator to confirm; None when they do not."""
    if answers.get("mistake") == "yes":
        return Outcome.FALSE_ALARM
    if answers.get("device") in ("known", "visit_needed"):
        return Outcome.DEVICE_FAULT
    if answers.get("needs") == "ambulance":
        return Outcome.TAKEN_TO_HOSPITAL
    if answers.get("condition") == "well" and answers.get("needs", "nothing") == "nothing":
        return Outcome.RESIDENT_WELL
    return None


def summary(answers: Mapping[str, str], rule: str, language: str | None) -> str:
    """The answers as one line in ``language``: "Did the resident answer? the resident answered; …"."""
    zh = is_chinese(language)
    parts = []
    for q in script_for(rule).questions:
        if q.key in answers:
            label = q.answers[answers[q.key]]
            parts.append(f"{q.text.zh if zh else q.text.en} {label.zh if zh else label.en}")
    return "；".join(parts) if zh else "; ".join(parts)
