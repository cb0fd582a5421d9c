"""Adyen's published NotificationRequestItem HMAC test values (tests/data/adyen_webhook_vectors
.json, from the tests of Adyen's own libraries): paygate signs exactly as Adyen does, accepts
what Adyen signed and refuses anything else, one flipped byte included."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from paygate.adapters.adyen import AdyenAdapter
from paygate.adapters.adyen._webhooks import sign, signing_string, verify_item
from paygate.errors import ErrorCode, InvalidWebhookError
from paygate.models import EventType

DATA = Path(__file__).resolve().parents[1] / "data" / "adyen_webhook_vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(DATA.read_text(encoding="utf-8"))["vectors"]
VALID = [v for v in VECTORS if v["valid"]]
INVALID = [v for v in VECTORS if not v["valid"]]


def by_name(vectors: list[dict[str, Any]]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("vector", vectors, ids=[v["name"] for v in vectors])


def key_of(vector: dict[str, Any]) -> bytes:
    return bytes.fromhex(vector["hmac_key_hex"])


def signed(vector: dict[str, Any], signature: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = copy.deepcopy(vector["item"])
    item["additionalData"] = {"hmacSignature": signature or vector["signature"]}
    return item


def delivery(*items: dict[str, Any]) -> bytes:
    wrapped = [{"NotificationRequestItem": item} for item in items]
    return json.dumps({"live": "false", "notificationItems": wrapped}).encode()


def test_the_fourteen_item_vectors_are_here() -> None:
    assert len(VECTORS) == 14 and len(INVALID) == 2
    assert len({v["name"] for v in VECTORS}) == 14


@by_name(VECTORS)
def test_the_signing_string_is_adyens(vector: dict[str, Any]) -> None:
    assert signing_string(vector["item"]) == vector["signing_string"]


@by_name(VALID)
def test_every_expected_signature_is_reproduced(vector: dict[str, Any]) -> None:
    assert sign(vector["item"], key_of(vector)) == vector["signature"]
    assert verify_item(signed(vector), key_of(vector)) is True


@by_name(INVALID)
def test_an_invalid_signature_is_refused_without_raising(vector: dict[str, Any]) -> None:
    assert sign(vector["item"], key_of(vector)) != vector["signature"]
    assert verify_item(signed(vector), key_of(vector)) is False


@by_name(VALID)
@pytest.mark.parametrize("position", [0, 15, 31])
def test_a_flipped_byte_of_the_signature_fails(vector: dict[str, Any], position: int) -> None:
    digest = bytearray(base64.b64decode(vector["signature"]))
    digest[position] ^= 0x01
    flipped = base64.b64encode(bytes(digest)).decode()
    assert verify_item(signed(vector, flipped), key_of(vector)) is False


@by_name(VALID)
def test_a_flipped_byte_of_a_signed_field_or_the_key_fails(vector: dict[str, Any]) -> None:
    item = signed(vector)
    psp = item["pspReference"]
    item["pspReference"] = chr(ord(psp[0]) ^ 0x01) + psp[1:]
    assert verify_item(item, key_of(vector)) is False
    key = bytearray(key_of(vector))
    key[0] ^= 0x01
    assert verify_item(signed(vector), bytes(key)) is False


@by_name([v for v in VALID if isinstance(v["item"]["amount"]["value"], int)])
def test_the_adapter_accepts_what_adyen_signed(vector: dict[str, Any]) -> None:
    adapter = AdyenAdapter("test_key", merchant_account="M", hmac_key=vector["hmac_key_hex"])
    (event,) = adapter.parse_webhook({}, delivery(signed(vector)), now=0.0)
    item = vector["item"]
    assert event.provider_type == item["eventCode"]
    assert event.event_id == f"{item['pspReference']}:{item['eventCode']}:{item['success']}"
    original = item.get("originalReference") or None
    assert event.payment_id == (original or item["pspReference"])
    if item["eventCode"] == "AUTHORISATION":
        assert event.type is EventType.AUTHORIZED


@by_name(INVALID)
def test_the_adapter_refuses_what_adyen_did_not_sign(vector: dict[str, Any]) -> None:
    adapter = AdyenAdapter("test_key", merchant_account="M", hmac_key=vector["hmac_key_hex"])
    good = next(v for v in VALID if v["hmac_key_hex"] == vector["hmac_key_hex"])
    with pytest.raises(InvalidWebhookError) as refused:
        adapter.parse_webhook({}, delivery(signed(good), signed(vector)), now=0.0)
    assert refused.value.code is ErrorCode.WEBHOOK_SIGNATURE_INVALID
