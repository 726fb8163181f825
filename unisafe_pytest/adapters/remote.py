"""What the HTTP adapters share: settings check, endpoint and key resolution, the connection.

The adapters (openai-chat, openai-images, gemini) differ in the requests they build; they
open their endpoint the same way, declare themselves cacheable (their ``describe()`` names
every setting that shapes an output), allow as many calls at once as the profile's
``max_connections``, and give each call the deadline of its task's output modality
(:meth:`RemoteAdapter.deadline`, from the profile's ``timeout_s``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import httpx

from unisafe_pytest.adapters.http import Deadline, HttpEndpoint
from unisafe_pytest.adapters.profiles import (
    OUTPUT_MODALITIES,
    Endpoint,
    Settings,
    check_keys,
    profile_label,
    resolve_endpoint,
)
from unisafe_pytest.schema.tasks import Task


class RemoteAdapter:
    """Base of the HTTP adapters; subclasses set the class attributes and call ``_connect``."""

    KIND: ClassVar[str]
    KEYS: ClassVar[frozenset[str] | set[str]]
    DEFAULT_BASE_URL: ClassVar[str]
    DEFAULT_API_KEY_ENV: ClassVar[str]
    AUTH: ClassVar[Literal["bearer", "x-goog-api-key"]] = "bearer"
    """How the key is sent: ``bearer`` or ``x-goog-api-key``."""

    cacheable = True
    endpoint: Endpoint
    _http: HttpEndpoint

    def _connect(
        self,
        spec: str,
        settings: Mapping[str, Any] | None,
        *,
        client: httpx.Client | None,
        transport: httpx.BaseTransport | None,
        env: Mapping[str, str] | None,
    ) -> tuple[dict[str, Any], Settings]:
        """Check the settings, resolve model, URL and key, and open the connection."""
        raw = dict(settings or {})
        check_keys(self.KIND, raw, self.KEYS)
        s = Settings(self.KIND, raw)
        self.endpoint, secret = resolve_endpoint(
            self.KIND, spec, s, default_base_url=self.DEFAULT_BASE_URL,
            default_api_key_env=self.DEFAULT_API_KEY_ENV, env=env,
        )
        self._http = HttpEndpoint(
            label=f"{self.KIND} {self.display_model()}",
            base_url=self.endpoint.base_url,
            api_key=secret,
            auth=self.AUTH if secret else "none",
            timeout_s=max(self.endpoint.deadline(m).seconds for m in OUTPUT_MODALITIES),
            max_connections=self.endpoint.max_connections,
            client=client,
            transport=transport,
            model=self.endpoint.model,
            profile=profile_label(self.KIND, raw),
        )
        return raw, s

    def deadline(self, task: Task) -> Deadline:
        """How long each call for ``task`` may take: the timeout of its output modality."""
        return self.endpoint.deadline(task.output)

    def display_model(self) -> str:
        return self.endpoint.model

    @property
    def max_concurrency(self) -> int:
        """Calls that may run at once in one process: the profile's ``max_connections``."""
        return self.endpoint.max_connections

    def close(self) -> None:
        self._http.close()
