"""The REST client the `picket` commands use: one place that turns failures into one line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

from picket import __version__

API_PREFIX = "/api/v1"

# A rate-limited request waits as Retry-After says, this many times, before giving up.
RATE_LIMIT_RETRIES = 3
RATE_LIMIT_MAX_WAIT_S = 60.0


class ClientError(Exception):
    """A failure worth one line to a person: what was asked and what went wrong."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip().splitlines()[0] if response.text.strip() else ""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # FastAPI's default shape, should a route bypass ours
        detail = "; ".join(str(d.get("msg", d)) for d in detail)
    return str(detail or body)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait before retrying a 429, or None when this answer is final."""
    if response.status_code != 429:
        return None
    try:
        wait = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        return None
    return wait if 0 <= wait <= RATE_LIMIT_MAX_WAIT_S else None


class ApiClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not api_key:
            raise ClientError("no API key: set PICKET_API_KEY or pass --api-key")
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"picket-cli/{__version__}",
            },
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            response = self._send(method, path, json, params)
            wait = _retry_after(response)
            if wait is None or attempt == RATE_LIMIT_RETRIES:
                break
            time.sleep(wait)
        if response.status_code >= 400:
            message = f"{method} {path}: {response.status_code} {_detail(response)}".rstrip()
            if response.status_code == 429:
                message += f" (retry after {response.headers.get('Retry-After', '?')}s)"
            raise ClientError(message, response.status_code)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _send(self, method: str, path: str, json: Any, params: dict[str, Any]) -> httpx.Response:
        try:
            return self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException:
            raise ClientError(
                f"{method} {path}: the API at {self.base_url} did not answer"
            ) from None
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the API at {self.base_url}: {exc}") from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def iter_all(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, page after page."""
        page = 1
        while True:
            body = self.get(path, page=page, limit=100, **params)
            if isinstance(body, list):  # an endpoint that answers a plain list
                yield from body
                return
            yield from body["data"]
            if page >= body["pagination"]["pages"]:
                return
            page += 1

    def list_all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        return list(self.iter_all(path, **params))
