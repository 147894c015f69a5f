"""The emulator's HTTP side: ``/bot<token>/<method>`` with parameters in the query, a JSON or
urlencoded body, or a multipart body streamed to disk; answers in Telegram's ``{"ok": …}``
shapes."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any

from bot.sandbox.botapi.objects import ApiError, Call
from bot.sandbox.botapi.state import EmulatorState
from bot.sandbox.uploads import UploadedFile, read_multipart

JSON_FIELDS = {
    "reply_markup",
    "reply_parameters",
    "entities",
    "caption_entities",
    "commands",
    "allowed_updates",
    "link_preview_options",
    "scope",
}


def handler_class(emulator: EmulatorState) -> type[BaseHTTPRequestHandler]:
    """The request handler of the emulator's HTTP server: parse a call, run it, answer as
    Telegram."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._serve()

        def do_POST(self) -> None:  # noqa: N802
            self._serve()

        def _serve(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", parts.path)
            length = int(self.headers.get("Content-Length") or 0)
            content_type = self.headers.get("Content-Type", "")
            streamed: tuple[dict, dict] | None = None
            if _is_multipart(content_type):  # read as it arrives: files go to disk, hashed
                try:
                    streamed = read_multipart(
                        self.rfile,
                        length,
                        content_type,
                        limit=emulator.upload_limit,
                        spool=emulator.spool(),
                        rate=emulator.upload_rate,
                    )
                except ConnectionError:
                    self.close_connection = True
                    return  # the client gave up mid-body (a cancelled upload): nobody to answer
                except ValueError as exc:
                    self.close_connection = True
                    return self._reply(
                        400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
                    )
            body = self.rfile.read(length) if length and streamed is None else b""
            if not match:
                return self._reply(
                    404, {"ok": False, "error_code": 404, "description": "Not Found"}
                )
            token, method = match.groups()
            if token != emulator.token:
                return self._reply(
                    401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                )
            try:
                if streamed is not None:
                    params = {
                        k: _decode(k, v)
                        for k, v in {
                            **dict(urllib.parse.parse_qsl(parts.query)),
                            **streamed[0],
                        }.items()
                    }
                    files = streamed[1]
                else:
                    params, files = _parse_params(content_type, body, parts.query)
            except ValueError as exc:
                return self._reply(
                    400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
                )
            call = Call(time.monotonic(), method, params)
            emulator.record_call(call)
            delay = emulator.delay_of(method)
            if delay:
                time.sleep(delay)  # a slow answer (slow_down): outside the state's lock
            try:
                result = emulator.handle(method, params, files)
            except ApiError as exc:
                call.status = exc.code
                answer: dict[str, Any] = {
                    "ok": False,
                    "error_code": exc.code,
                    "description": exc.description,
                }
                if exc.retry_after is not None:
                    answer["parameters"] = {"retry_after": exc.retry_after}
                if exc.migrate_to_chat_id is not None:
                    answer["parameters"] = {"migrate_to_chat_id": exc.migrate_to_chat_id}
                return self._reply(exc.code, answer)
            self._reply(200, {"ok": True, "result": result})

        def _reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def _is_multipart(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "multipart/form-data"


def _decode(name: str, value: Any) -> Any:
    if name in JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"can't parse {name} JSON object") from None
    return value


def _parse_params(
    content_type: str, body: bytes, query: str
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Parameters from a query string or an urlencoded/JSON body, as the Bot API accepts
    (multipart bodies are streamed by :func:`bot.sandbox.uploads.read_multipart` instead)."""
    params: dict[str, Any] = {k: v for k, v in urllib.parse.parse_qsl(query)}
    files: dict[str, UploadedFile] = {}
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" and body:
        params.update(json.loads(body))
    elif kind == "application/x-www-form-urlencoded":
        params.update(urllib.parse.parse_qsl(body.decode("utf-8")))
    return {k: _decode(k, v) for k, v in params.items()}, files
