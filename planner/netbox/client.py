"""A small NetBox REST client on the standard library (``urllib``), with the errors a planner can act on.

Why not ``pynetbox``: rackplan talks to about a dozen endpoints, and what it needs from a client is
exactly what a general one hides. Every failure must become one line naming what to fix (a refused
token, an unreachable URL, an answer that is not NetBox's), a list must be read to its last page and
then checked against the ``count`` NetBox announced (a site edited while it is read, or a proxy that
rewrites ``next`` links, must not give a silently short facility), and writes go in bulk (a list in
one POST/PATCH/DELETE, which NetBox applies in one transaction) so that an export can be all or
nothing. With ``urllib`` that is some 150 lines and no new dependency for users who never touch
NetBox; ``pynetbox`` would add ``requests`` and still need the same checks around it.

Tokens: a v2 token (``nbt_<key>.<secret>``, NetBox 4.5+) is sent as ``Authorization: Bearer ...``, a
legacy v1 token (40 hex digits) as ``Authorization: Token ...``.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from planner.errors import InputError, Problem

DEFAULT_PAGE_SIZE = 500
"""Objects asked for per page (NetBox's ``MAX_PAGE_SIZE`` is 1000 by default; a server with a lower
one simply returns fewer, and the client follows ``next`` either way)."""
TIMEOUT_S = 60.0


class NetBoxError(InputError):
    """A bad answer from NetBox (or none): bad input, exit code 2, one line each."""

    def __init__(self, where: str, message: str, status: int | None = None):
        self.status = status
        super().__init__([Problem(where, "", message)])


def _detail(raw: bytes) -> str:
    """The useful part of an error body: NetBox's ``detail``, or field errors, on one line."""
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200] or "(empty body)"

    def flat(value: Any, prefix: str = "") -> list[str]:
        if isinstance(value, dict):
            if set(value) == {"detail"}:
                return flat(value["detail"], prefix)
            return [s for k, v in value.items() for s in flat(v, f"{prefix}{k}: ")]
        if isinstance(value, list):
            return [s for v in value for s in flat(v, prefix)]
        return [f"{prefix}{value}"]

    return "; ".join(dict.fromkeys(flat(body)))[:400]


class NetBoxClient:
    """One NetBox: ``url`` (the site root, e.g. ``http://127.0.0.1:8765``) and an API token."""

    def __init__(self, url: str, token: str, *, page_size: int = DEFAULT_PAGE_SIZE, timeout: float = TIMEOUT_S):
        url = (url or "").strip().rstrip("/")
        if url.endswith("/api"):
            url = url[:-4]
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise NetBoxError("<command line>", f"--url: expected http(s)://HOST[:PORT], got {url!r}")
        if not token:
            raise NetBoxError("<command line>", "--token: no API token given (or set $NETBOX_TOKEN)")
        self.url = url
        self.token = token.strip()
        self.page_size = page_size
        self.timeout = timeout
        self.requests = 0
        """Requests sent so far (tests and ``--dry-run`` check that a dry run writes nothing)."""
        self.writes = 0
        """POST, PATCH and DELETE requests sent so far."""

    # --- transport ----------------------------------------------------------------------------------
    def _auth(self) -> str:
        return f"Bearer {self.token}" if self.token.startswith("nbt_") else f"Token {self.token}"

    def _absolute(self, path: str, query: dict[str, Any] | None = None) -> str:
        if path.startswith(("http://", "https://")):
            # a `next` link: keep its path and query, but send it to the URL we were given (a proxy may
            # rewrite host or scheme in the links NetBox builds)
            parts = urllib.parse.urlsplit(path)
            target = f"{self.url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        else:
            target = f"{self.url}/api/{path.lstrip('/')}"
        if query:
            target += ("&" if "?" in target else "?") + urllib.parse.urlencode(query, doseq=True)
        return target

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        """One request; the decoded JSON answer (None for 204). Any failure is a :class:`NetBoxError`."""
        target = self._absolute(path, query)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(target, data=data, method=method, headers={
            "Authorization": self._auth(), "Accept": "application/json", "Content-Type": "application/json",
            "User-Agent": "rackplan"})
        self.requests += 1
        if method != "GET":
            self.writes += 1
        what = f"{method} {urllib.parse.urlsplit(target).path}"
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                status = resp.status
                ctype = resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raw = exc.read() if exc.fp is not None else b""
            if exc.code in (401, 403):
                raise NetBoxError(self.url, f"NetBox refused the request ({what}: HTTP {exc.code}: {_detail(raw)}); "
                                            "check --token (a v2 token nbt_KEY.SECRET) and its permissions",
                                  exc.code) from None
            if exc.code == 404 and method == "GET" and "/api/status/" in target:
                raise NetBoxError(self.url, "no NetBox REST API here (GET /api/status/: HTTP 404); check --url") from None
            raise NetBoxError(self.url, f"{what}: HTTP {exc.code}: {_detail(raw)}", exc.code) from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NetBoxError(self.url, f"cannot reach NetBox ({what}): {reason}; check --url and that NetBox "
                                        "is running") from None
        if status == 204 or not raw:
            return None
        if "json" not in ctype:
            raise NetBoxError(self.url, f"{what}: the answer is not JSON ({ctype or 'no content type'}); "
                                        "is --url a NetBox?")
        try:
            return json.loads(raw)
        except ValueError:
            raise NetBoxError(self.url, f"{what}: the answer is not valid JSON") from None

    # --- reading ------------------------------------------------------------------------------------
    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query or None)

    def status(self) -> dict[str, Any]:
        """``/api/status/``: the first call of every command, so a wrong URL or token fails here."""
        st = self.get("status/")
        if not isinstance(st, dict) or "netbox-version" not in st:
            raise NetBoxError(self.url, "GET /api/status/: not a NetBox status answer; is --url a NetBox?")
        return st

    def list(self, path: str, **query: Any) -> list[dict[str, Any]]:
        """Every object of a list endpoint, page after page (``next``), checked against ``count``."""
        query = {"limit": self.page_size, **query}
        page = self.get(path, **query)
        out: list[dict[str, Any]] = []
        pages = 0
        while True:
            if not isinstance(page, dict) or not {"count", "results"} <= set(page):
                raise NetBoxError(self.url, f"GET /api/{path}: not a NetBox list (no count/results)")
            results = page["results"]
            if not isinstance(results, list):
                raise NetBoxError(self.url, f"GET /api/{path}: results is not a list")
            out.extend(results)
            pages += 1
            nxt = page.get("next")
            if not nxt:
                break
            if not results or pages > page["count"] + 1:
                raise NetBoxError(self.url, f"GET /api/{path}: pagination does not advance (page {pages}, "
                                            f"{len(out)} of {page['count']} objects)")
            page = self.get(nxt)
        if len(out) != page["count"]:
            raise NetBoxError(self.url, f"GET /api/{path}: read {len(out)} objects in {pages} page(s), but NetBox "
                                        f"counts {page['count']} (changed while it was read?); run again")
        return out

    def list_in(self, path: str, key: str, values: list[Any], **query: Any) -> list[dict[str, Any]]:
        """Objects whose filter ``key`` is one of ``values``, asked for 100 values at a time so that
        URLs stay short (a site of thousands of racks)."""
        out: list[dict[str, Any]] = []
        unique = sorted(set(values), key=str)
        for i in range(0, len(unique), 100):
            out.extend(self.list(path, **{key: unique[i:i + 100]}, **query))
        return out

    def list_ids(self, path: str, ids: list[int], **query: Any) -> list[dict[str, Any]]:
        """Objects by id (:meth:`list_in` on ``id``)."""
        return self.list_in(path, "id", ids, **query)

    # --- writing ------------------------------------------------------------------------------------
    def create(self, path: str, body: Any) -> Any:
        """POST one object, or a list (created in one transaction: all or none)."""
        return self.request("POST", path, body)

    def update(self, path: str, body: Any) -> Any:
        """PATCH a list of ``{"id": ..., field: value}`` (one transaction), or one object at ``path``."""
        return self.request("PATCH", path, body)

    def delete(self, path: str, ids: list[int]) -> None:
        """DELETE objects by id in one request (one transaction)."""
        if ids:
            self.request("DELETE", path, [{"id": i} for i in ids])


def value(field: Any) -> Any:
    """A choice field's value (``{"value": ..., "label": ...}``) or a nested object's id, else as is."""
    if isinstance(field, dict):
        if "value" in field:
            return field["value"]
        if "id" in field:
            return field["id"]
    return field


def custom(obj: dict[str, Any] | None, name: str) -> Any:
    """A custom field's value, None when the object, the field or its value is missing."""
    return ((obj or {}).get("custom_fields") or {}).get(name)
