"""The logging setup Job's runner, run as the Job runs it (a separate Python, the plan from the
stack) against a real HTTPS server whose certificate only the plan's CA bundle verifies."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from infra.k8s.observability import search_setup
from infra.k8s.observability.config import LoggingConfig
from infra.k8s.observability.logging import setup_plan

RUNNER = Path(search_setup.__file__)


@dataclass
class Recorder:
    """What the server received, and how many 503s it still answers before accepting."""

    unavailable: int = 0
    requests: list[tuple[str, str, dict[str, str], object]] = field(default_factory=list)


@dataclass
class Server:
    url: str
    ca: Path
    recorder: Recorder


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca = tmp_path / "ca.crt"
    authority.cert_pem.write_to_path(str(ca))
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length)) if length else None
            headers = {key.lower(): value for key, value in self.headers.items()}
            recorder.requests.append((self.command, self.path, headers, body))
            if recorder.unavailable:
                recorder.unavailable -= 1
                self.send_response(503)
                payload = b'{"error": "cluster not ready"}'
            else:
                self.send_response(200)
                payload = b'{"acknowledged": true}'
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            self.do_PUT()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"https://127.0.0.1:{httpd.server_address[1]}", ca, recorder)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _run(tmp_path: Path, server: Server, *, attempts: int = 3) -> subprocess.CompletedProcess[str]:
    plan = setup_plan(LoggingConfig())
    for call in plan:
        call["ca"] = str(server.ca)  # where the Job mounts the ES / Kibana CA secrets
    plan_file = tmp_path / "calls.json"
    plan_file.write_text(json.dumps(plan))
    environment = {
        "ES": server.url,
        "KIBANA": server.url,
        "PASSWORD": "s3cret-elastic",
        "SETUP_PLAN": str(plan_file),
        "SETUP_ATTEMPTS": str(attempts),
        "SETUP_RETRY_DELAY": "0",
    }
    return subprocess.run(
        [sys.executable, "-I", str(RUNNER)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_applies_every_call_with_the_elastic_user_and_retries_while_unavailable(
    tmp_path: Path, server: Server
) -> None:
    server.recorder.unavailable = 2
    result = _run(tmp_path, server)
    assert result.returncode == 0, result.stdout + result.stderr
    requests = server.recorder.requests
    # The first call answered 503 twice, then every call once.
    assert [(method, path) for method, path, _, _ in requests] == [
        ("PUT", "/_ilm/policy/stratus-logs"),
        ("PUT", "/_ilm/policy/stratus-logs"),
        ("PUT", "/_ilm/policy/stratus-logs"),
        ("PUT", "/_index_template/stratus-logs"),
        ("POST", "/api/data_views/data_view"),
    ]
    assert "HTTP 503" in result.stdout
    assert "cluster not ready" in result.stdout
    for _, _, headers, _ in requests:
        # base64("elastic:s3cret-elastic")
        assert headers["authorization"] == "Basic ZWxhc3RpYzpzM2NyZXQtZWxhc3RpYw=="
        assert headers["content-type"] == "application/json"
    assert requests[-1][2]["kbn-xsrf"] == "true"
    plan = setup_plan(LoggingConfig())
    assert [body for *_, body in requests[2:]] == [call["body"] for call in plan]


def test_fails_naming_the_call_when_it_never_succeeds(tmp_path: Path, server: Server) -> None:
    server.recorder.unavailable = 100
    result = _run(tmp_path, server, attempts=2)
    assert result.returncode == 1
    assert "setup failed: PUT {ES}/_ilm/policy/stratus-logs never succeeded" in result.stderr
    assert len(server.recorder.requests) == 2  # nothing after the call that failed


def test_refuses_a_server_the_plans_ca_does_not_vouch_for(tmp_path: Path, server: Server) -> None:
    other = tmp_path / "other-ca.crt"
    trustme.CA().cert_pem.write_to_path(str(other))
    server.ca = other
    result = _run(tmp_path, server, attempts=1)
    assert result.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in result.stdout
    assert server.recorder.requests == []
