"""A stand-in for Sentry's ingestion endpoint, on loopback: it accepts the
envelopes the SDK posts to /api/<project>/envelope/, keeps every request
(headers and the decompressed body) and answers 200, as Sentry does. Tests
read what the SDK sent; nothing is forwarded anywhere."""

import gzip
import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli

PROJECT_ID = 1


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes  # as sent (compressed)
    body: bytes  # decompressed

    def envelope(self) -> tuple[dict, list[tuple[dict, bytes]]]:
        """The envelope's header and its (item header, payload) pairs."""
        header_line, _, rest = self.body.partition(b"\n")
        items = []
        while rest.strip():
            item_line, _, rest = rest.partition(b"\n")
            item = json.loads(item_line)
            if "length" in item:
                payload, rest = rest[: item["length"]], rest[item["length"] :]
                rest = rest.removeprefix(b"\n")
            else:
                payload, _, rest = rest.partition(b"\n")
            items.append((item, payload))
        return json.loads(header_line), items


class SentryRecorder:
    def __init__(self, host: str = "127.0.0.1"):
        self.key = secrets.token_hex(16)
        self.received: list[Received] = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                body = {"gzip": gzip.decompress, "br": brotli.decompress}.get(encoding, bytes)(raw)
                with recorder.lock:
                    recorder.received.append(Received(self.path, dict(self.headers), raw, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.host, self.port = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://{self.key}@{self.host}:{self.port}/{PROJECT_ID}"

    def start(self) -> "SentryRecorder":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        """Every error event received so far."""
        with self.lock:
            received = list(self.received)
        return [
            json.loads(payload)
            for request in received
            for item, payload in request.envelope()[1]
            if item.get("type") == "event"
        ]
