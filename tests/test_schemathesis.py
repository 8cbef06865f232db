"""schemathesis fuzzes every operation of /openapi.json on a real server: no 5xx, no off-schema answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.server import Server

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_openapi_contract_holds_under_fuzzing(tmp_path):
    server = Server(tmp_path / "data", workers=2).start()
    try:
        run = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                "not_a_server_error,response_schema_conformance,status_code_conformance,"
                "content_type_conformance",
                "--max-examples",
                "25",
                "--generation-deterministic",
                "--request-timeout",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stdout[-6000:]
        assert "No issues found" in run.stdout
        assert "500 Internal" not in server.log.read_text()
    finally:
        server.stop()
