"""A settings section: a frozen table of ``Settings`` (``[store]``, a provider's ``[stripe]``)
that refuses unknown keys, neither shows nor holds a rejected value (``QuietModel``), and
shows a URL without the user name and password it may carry."""

from __future__ import annotations

from pydantic import ConfigDict

from paygate._quiet import QuietModel
from paygate._redaction import url_without_credentials

__all__ = ["SettingsSection"]


class SettingsSection(QuietModel):
    """One table of the settings; a field whose name ends in ``url`` is shown without
    credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __repr__(self) -> str:
        # A URL may carry a user name and password (a database, a proxy): never shown.
        shown = (
            (name, url_without_credentials(value) if name.endswith("url") and value else value)
            for name, value in self
        )
        return f"{type(self).__name__}({', '.join(f'{n}={v!r}' for n, v in shown)})"
