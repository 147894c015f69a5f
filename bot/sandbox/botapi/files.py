"""The Bot API methods that send files: documents, videos and audio, uploaded (streamed to disk and
hashed by :mod:`bot.sandbox.uploads`) or, like a local Bot API server, named by path."""

from __future__ import annotations

import hashlib
import urllib.parse
from pathlib import Path
from typing import Any

from bot.sandbox.botapi.messages import MessageMethods
from bot.sandbox.botapi.objects import ApiError
from bot.sandbox.uploads import UploadedFile


class FileMethods(MessageMethods):
    """``sendDocument``, ``sendVideo``, ``sendAudio``: the upload limit, local mode, what tests
    check."""

    def _api_senddocument(self, p: dict, f: dict) -> dict:
        chat_id = self._chat_id(p)
        extra: dict[str, Any] = {}
        if "document" in f:
            upload: UploadedFile = f["document"]
            if upload.size > self.upload_limit:
                raise ApiError(413, "Request Entity Too Large")
            digest, size, name = upload.sha256, upload.size, upload.filename
            extra = {"sent_by": "upload", "stored_at": str(upload.path)}
        else:
            ref = str(p.get("document", ""))
            if not ref.startswith("file://") or not self.local_mode:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            path = Path(urllib.parse.unquote(urllib.parse.urlsplit(ref).path))
            if not path.is_file():
                raise ApiError(400, "Bad Request: file not found")
            digest, size, name = _hash_file(path), path.stat().st_size, path.name
            extra = {"sent_by": "path", "path": str(path)}
        document = {
            "file_id": f"doc-{digest[:16]}",
            "file_unique_id": digest[:12],
            "file_name": name,
            "file_size": size,
            "sha256": digest,
            **extra,
        }
        caption = p.get("caption")
        message = self._bot_message(chat_id, None, p, document=document, caption=caption)
        return self._message_dict(message)

    def _api_sendvideo(self, p: dict, f: dict) -> dict:
        return self._send_media("video", p, f)

    def _api_sendaudio(self, p: dict, f: dict) -> dict:
        return self._send_media("audio", p, f)

    def _send_media(self, kind: str, p: dict, f: dict) -> dict:
        """sendVideo / sendAudio: keeps the bytes and the parameters, for tests to check."""
        chat_id = self._chat_id(p)
        if kind in f:
            upload: UploadedFile = f[kind]
            if upload.size > self.upload_limit or upload.path is None:
                raise ApiError(413, "Request Entity Too Large")
            name, data = upload.filename, upload.path.read_bytes()
        else:  # by path, as a local Bot API server takes it (TELEGRAM_LOCAL_MODE)
            ref = str(p.get(kind, ""))
            path = (
                Path(urllib.parse.unquote(urllib.parse.urlsplit(ref).path))
                if ref.startswith("file://")
                else None
            )
            if path is None or not self.local_mode or not path.is_file():
                raise ApiError(400, f"Bad Request: there is no {kind} in the request")
            name, data = path.name, path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        media = {
            "kind": kind,
            "file_id": f"{kind}-{digest[:16]}",
            "file_unique_id": digest[:12],
            "file_name": name,
            "file_size": len(data),
            "data": data,
            "thumbnail_data": _attached(p.get("thumbnail"), f)
            or _attached("attach://thumbnail", f),
            "params": {k: v for k, v in p.items() if k not in ("chat_id", "caption")},
        }
        for key in ("duration", "width", "height"):
            if key in p:
                media[key] = int(p[key])
        for key in ("title", "performer"):
            if key in p:
                media[key] = str(p[key])
        message = self._bot_message(chat_id, None, p, media=media, caption=p.get("caption"))
        return self._message_dict(message)


def _attached(value: Any, files: dict[str, UploadedFile]) -> bytes | None:
    """The bytes of a multipart part named by an ``attach://name`` parameter, if any."""
    if isinstance(value, str) and value.startswith("attach://"):
        part = files.get(value[len("attach://") :])
        return part.path.read_bytes() if part is not None and part.path is not None else None
    return None


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
