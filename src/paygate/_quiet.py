"""A pydantic model for configuration whose validation errors carry no input value.

pydantic's ``hide_input_in_errors`` keeps the value out of an error's text, but the error
still holds it (``errors()``, ``json()``), where a structured logger or an error tracker finds
it. A setting's value may be an API key or a password, so configuration errors are rebuilt
without their inputs: the same types, locations and messages, every ``input`` None.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails

__all__ = ["QuietModel", "quiet_details", "without_inputs"]


def quiet_details(error: ValidationError, prefix: tuple[str, ...] = ()) -> list[InitErrorDetails]:
    """``error``'s details without their inputs, each location under ``prefix``."""
    return [
        InitErrorDetails(type=e["type"], loc=(*prefix, *e["loc"]), input=None, ctx=e["ctx"])
        if "ctx" in e
        else InitErrorDetails(type=e["type"], loc=(*prefix, *e["loc"]), input=None)
        for e in error.errors(include_url=False)
    ]


def without_inputs(error: ValidationError) -> ValidationError:
    """``error`` with every input value removed."""
    return ValidationError.from_exception_data(error.title, quiet_details(error), hide_input=True)


class QuietModel(BaseModel):
    """A model whose ``ValidationError`` neither shows nor holds the values it was given."""

    model_config = ConfigDict(hide_input_in_errors=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            error = without_inputs(exc)
        else:
            return
        raise error  # outside the except block: the original, which holds them, is not chained
