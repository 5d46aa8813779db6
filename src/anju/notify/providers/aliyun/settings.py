"""Aliyun's settings: ``ANJU_ALIYUN_*`` (AccessKey, SMS signature and template codes, voice numbers)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from anju.notify.providers.base import ProviderSettings


class AliyunSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="ANJU_ALIYUN_", extra="ignore")

    access_key_id: str | None = None
    access_key_secret: SecretStr | None = None
    #: The approved SMS signature (签名), shown as 【...】 before every message.
    sms_sign_name: str | None = None
    #: Approved SMS template codes: the alert (with its key words) and a notice for text-only rows.
    sms_template_alert_zh: str | None = None
    sms_template_alert_en: str | None = None
    sms_template_notice_zh: str | None = None
    sms_template_notice_en: str | None = None
    #: The resident check-in's SMS (reply 1 / 9); without it the notice template carries its text.
    sms_template_checkin_zh: str | None = None
    sms_template_checkin_en: str | None = None
    #: The number calls show (a purchased 真实号 or 公共号码); empty lets Aliyun pick a public one.
    voice_show_number: str = ""
    #: Approved TTS template codes: the alert that asks for a key, and a notice without keys.
    voice_template_alert_zh: str | None = None
    voice_template_alert_en: str | None = None
    voice_template_notice_zh: str | None = None
    voice_template_notice_en: str | None = None
    #: What the call says after a key: ``{"1": "TTS_...", "2": "TTS_...", "9": "TTS_..."}``.
    voice_key_templates: dict[str, str] = Field(default_factory=dict)
    #: The resident check-in call (an IVR: 1 = well, 9 = help); without it a plain TTS notice call.
    voice_template_checkin_zh: str | None = None
    voice_template_checkin_en: str | None = None
    #: What a check-in call says after 1 or 9; keys missing here take ``voice_key_templates``'.
    voice_checkin_key_templates: dict[str, str] = Field(default_factory=dict)
    #: Secret path segment of the receipt URLs registered in the consoles (pushes carry no signature).
    receipt_token: SecretStr | None = None
    #: Another server speaking Aliyun's RPC API (the fake in tests): ``http://127.0.0.1:PORT``.
    api_base: str | None = None
    #: Region of the service endpoints (mainland SMS and voice live in cn-hangzhou).
    region: str = "cn-hangzhou"

    def configured(self) -> bool:
        return bool(
            self.access_key_id
            and self.access_key_secret
            and self.sms_sign_name
            and self.sms_template_alert_zh
            and self.voice_template_alert_zh
        )
