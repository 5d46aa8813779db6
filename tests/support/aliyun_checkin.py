"""The check-in templates a deployment registered with Aliyun (the codes its console gave back)."""

from __future__ import annotations

#: ``ANJU_ALIYUN_*`` for the check-in call (an IVR: 1 = well, 9 = help) and SMS, beside ``aliyun_env``.
CHECKIN_ENV = {
    "ANJU_ALIYUN_VOICE_TEMPLATE_CHECKIN_ZH": "TTS_400000001",
    "ANJU_ALIYUN_VOICE_TEMPLATE_CHECKIN_EN": "TTS_400000002",
    "ANJU_ALIYUN_SMS_TEMPLATE_CHECKIN_ZH": "SMS_400000003",
    "ANJU_ALIYUN_VOICE_CHECKIN_KEY_TEMPLATES": '{"1": "TTS_400000011", "9": "TTS_400000019"}',
}
