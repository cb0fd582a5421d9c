"""Adyen's ``ServiceError`` (``{"status", "errorCode", "message", "errorType", "pspReference"}``)
as an exception the simulator raises and turns into an HTTP answer.

Codes 000, 010, 100, 101, 103, 167, 702 and 704 are those of shared/providers/README.md and the
Checkout spec's examples; 102, 129, 137, 138, 803 and 903 come from Adyen's published error-code
list, and the simulator uses them where that list names the situation.
"""

from __future__ import annotations

import secrets
import string
from typing import Final

from paygate.testing._records import Reply, json_reply

SECURITY: Final = "security"
VALIDATION: Final = "validation"
INTERNAL: Final = "internal"
CONFIGURATION: Final = "configuration"

TRANSIENT: Final = ("transient-error", "true")  # Adyen marks errors worth a retry with the key

_PSP_ALPHABET: Final = string.ascii_uppercase + string.digits


def new_psp_reference() -> str:
    """A fresh 16-character pspReference, upper-case letters and digits like Adyen's."""
    return "".join(secrets.choice(_PSP_ALPHABET) for _ in range(16))


class AdyenError(Exception):
    """An answer in Adyen's ``ServiceError`` shape."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        error_type: str = VALIDATION,
        *headers: tuple[str, str],
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.error_type = error_type
        self.headers = headers

    def reply(self) -> Reply:
        body: dict[str, object] = {
            "status": self.status,
            "errorCode": self.error_code,
            "message": str(self),
            "errorType": self.error_type,
        }
        if self.status != 401:  # as in the spec's examples, a 401 names no pspReference
            body["pspReference"] = new_psp_reference()
        return json_reply(self.status, body, *self.headers)


def required(name: str, is_object: bool = False) -> AdyenError:
    """422 ``100``: a required field is missing; ``name`` is its dotted path."""
    kind = "object" if is_object else "field"
    return AdyenError(422, "100", f"Required {kind} '{name}' is not provided.")


def unexpected(message: str) -> AdyenError:
    """400 ``702``: the body cannot be read as the endpoint's request (syntax or types)."""
    return AdyenError(400, "702", f"Unexpected input: {message}")


def unauthorized() -> AdyenError:
    return AdyenError(401, "000", "HTTP Status Response - Unauthorized", SECURITY)


def not_allowed() -> AdyenError:
    return AdyenError(403, "010", "Not allowed", SECURITY)


def in_progress() -> AdyenError:
    return AdyenError(422, "704", "request already processed or in progress", VALIDATION, TRANSIENT)


def internal(status: int) -> AdyenError:
    return AdyenError(status, "903", "Internal error (simulated)", INTERNAL, TRANSIENT)
