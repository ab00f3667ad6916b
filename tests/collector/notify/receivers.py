"""Local stand-ins for the services notifications go to: HTTP servers on 127.0.0.1 that
check each request against the shape the service documents and answer as it does, and an
SMTP server (aiosmtpd) with STARTTLS or implicit TLS and login."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from picket.testing import free_port


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# A checker looks at one request and returns the answer the real service would give:
# (status, JSON body or None). It raises AssertionError-free: problems become 400s, the
# way the services refuse malformed requests, and are kept in `Receiver.problems`.
Answer = tuple[int, Any]
Checker = Callable[[Received], Answer]


@dataclass
class Receiver:
    checker: Checker
    # Answers forced before the checker runs, one per request ("500, 500, then normal").
    script: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # While set, requests are received but not answered (a slow or hung service).
    hold: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Received(
                    method="POST",
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                receiver.requests.append(request)
                if receiver.hold.is_set():
                    receiver.release.wait(60)
                if receiver.script:
                    status, body = receiver.script.pop(0), {"error": "scripted"}
                else:
                    try:
                        status, body = receiver.checker(request)
                    except (KeyError, TypeError, ValueError, AssertionError) as exc:
                        status, body = 400, {"error": f"malformed: {exc!r}"}
                    if status >= 400:
                        receiver.problems.append(f"{status}: {body}")
                    else:
                        receiver.accepted.append(request)
                raw = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _require(condition: bool, why: str) -> None:
    if not condition:
        raise ValueError(why)


# --- the services' documented request shapes ----------------------------------------------


def slack(request: Received) -> Answer:
    body = request.json()
    _require(isinstance(body.get("text"), str) and body["text"], "text is required")
    for block in body.get("blocks", []):
        _require(block.get("type") in {"header", "section", "actions", "context"}, "block type")
        if block["type"] in {"header", "section"}:
            _require(len(block["text"]["text"]) <= 3000, "block text too long")
    _require(len(body.get("blocks", [])) <= 50, "at most 50 blocks")
    return 200, None


def discord(request: Received) -> Answer:
    body = request.json()
    _require(bool(body.get("content")) or bool(body.get("embeds")), "content or embeds")
    _require(len(body.get("content", "")) <= 2000, "content over 2000")
    embeds = body.get("embeds", [])
    _require(len(embeds) <= 10, "at most 10 embeds")
    for embed in embeds:
        _require(len(embed.get("title", "")) <= 256, "embed title over 256")
        _require(len(embed.get("description", "")) <= 4096, "embed description over 4096")
        _require(isinstance(embed.get("color", 0), int), "color is an integer")
        _require(len(embed.get("fields", [])) <= 25, "at most 25 fields")
        for item in embed.get("fields", []):
            _require(isinstance(item["name"], str) and isinstance(item["value"], str), "field")
    return 204, None


def teams(request: Received) -> Answer:
    body = request.json()
    _require(body.get("type") == "message", "type must be message")
    attachments = body["attachments"]
    _require(len(attachments) >= 1, "one attachment")
    card = attachments[0]
    _require(card["contentType"] == "application/vnd.microsoft.card.adaptive", "contentType")
    content = card["content"]
    _require(content["type"] == "AdaptiveCard", "AdaptiveCard")
    _require(isinstance(content["version"], str), "version")
    _require(isinstance(content["body"], list) and content["body"], "card body")
    return 202, None


def telegram(token: str) -> Checker:
    def check(request: Received) -> Answer:
        if request.path != f"/bot{token}/sendMessage":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        body = request.json()
        _require(body.get("chat_id") not in (None, ""), "chat_id")
        _require(1 <= len(body.get("text", "")) <= 4096, "text length 1-4096")
        return 200, {"ok": True, "result": {"message_id": len(request.body), "text": body["text"]}}

    return check


def pagerduty(request: Received) -> Answer:
    _require(request.path == "/v2/enqueue", "path")
    body = request.json()
    _require(len(body.get("routing_key", "")) == 32, "routing_key is 32 characters")
    action = body.get("event_action")
    _require(action in {"trigger", "acknowledge", "resolve"}, "event_action")
    _require(0 < len(body.get("dedup_key", "")) <= 255, "dedup_key")
    if action == "trigger":
        payload = body["payload"]
        _require(0 < len(payload["summary"]) <= 1024, "summary")
        _require(bool(payload["source"]), "source")
        _require(payload["severity"] in {"critical", "error", "warning", "info"}, "severity")
    return 202, {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}


def opsgenie(api_key: str) -> Checker:
    def check(request: Received) -> Answer:
        if request.headers.get("authorization") != f"GenieKey {api_key}":
            return 401, {"message": "Could not authenticate", "took": 0.0, "requestId": "x"}
        body = request.json()
        if request.path == "/v2/alerts":
            _require(0 < len(body["message"]) <= 130, "message 1-130")
            _require(len(body.get("alias", "")) <= 512, "alias")
            _require(body.get("priority", "P3") in {"P1", "P2", "P3", "P4", "P5"}, "priority")
            _require(all(isinstance(v, str) for v in body.get("details", {}).values()), "details")
        else:
            _require(
                request.path.startswith("/v2/alerts/") and request.path.endswith("/close"), "path"
            )
            _require(request.query.get("identifierType") == ["alias"], "identifierType")
        return 202, {"result": "Request will be processed", "took": 0.01, "requestId": "r"}

    return check


def ntfy(request: Received) -> Answer:
    _require(request.path == "/", "JSON publishing goes to the root URL")
    body = request.json()
    _require(bool(body.get("topic")), "topic")
    _require(bool(body.get("message")), "message")
    _require(body.get("priority", 3) in {1, 2, 3, 4, 5}, "priority 1-5")
    return 200, {"id": "abc", "time": 1, "event": "message", "topic": body["topic"]}


def webhook(secret: str) -> Checker:
    """Verifies the signature with the standard recipe: HMAC-SHA256 of the raw body."""

    def check(request: Received) -> Answer:
        _require(verify_signature(secret, request), "signature does not verify")
        _require(bool(request.headers.get("x-picket-event-id")), "event id header")
        _require(request.headers.get("x-picket-timestamp", "").isdigit(), "timestamp header")
        request.json()
        return 200, {"ok": True}

    return check


def verify_signature(secret: str, request: Received) -> bool:
    sent = request.headers.get("x-signature-256", "")
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(sent, expected)


# --- SMTP ---------------------------------------------------------------------------------


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1 with a trustme certificate: STARTTLS or implicit TLS, and a
    login that must happen over TLS."""

    def __init__(self, security: str, username: str, password: str) -> None:
        self.security = security
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.tls)
        self.mailbox = _Mailbox()
        self.port = free_port()
        self.logins: list[str] = []

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == username
                and data.password.decode() == password
            )
            if ok:
                self.logins.append(username)
            # handled=False: aiosmtpd answers 535 itself.
            return AuthResult(success=ok, handled=False)

        kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": self.port,
            "authenticator": authenticate,
            "auth_require_tls": True,
        }
        if security == "tls":
            kwargs["ssl_context"] = self.tls
            # aiosmtpd only counts STARTTLS as TLS; this whole connection is TLS already.
            kwargs["auth_require_tls"] = False
        else:
            kwargs["tls_context"] = self.tls
            kwargs["require_starttls"] = True
        self.controller = Controller(self.mailbox, **kwargs)

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem.bytes().decode()

    @property
    def messages(self) -> list[Message]:
        return self.mailbox.messages

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
