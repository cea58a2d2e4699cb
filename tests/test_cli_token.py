"""The CLI commands that call a running service with --token never print the token, not even when it cannot be
sent (a stray CR or newline from a token file, a space, a non-ASCII character): the HTTP library's own error names
the header value, so such a token is refused naming --token before any request."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from typer.testing import CliRunner

from deconflict.cli import app
from deconflict.errors import InvalidInput

runner = CliRunner()
SECRET = "tok-SECRET-5f1e"


@pytest.mark.parametrize("token", [SECRET + "\r", SECRET + "\n", "Bearer " + SECRET, SECRET + "é"])
@pytest.mark.parametrize("command", ["report", "cosign"])
def test_a_token_that_cannot_be_sent_is_refused_without_being_printed(
        token: str, command: str, tmp_path: Path) -> None:
    pem = tmp_path / "k.pem"
    pem.write_bytes(Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with socket.create_server(("127.0.0.1", 0)) as listening:  # accepts the connection, answers nothing
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        args = (["report", "--at", "2026-01-01T00:00:00Z", "-o", str(tmp_path)] if command == "report" else
                ["ledger", "cosign", "--key", str(pem), "--state", str(tmp_path / "s.json")])
        result = runner.invoke(app, [*args, "--url", url, "--token", token])
    assert isinstance(result.exception, InvalidInput), (result.output, result.exception)
    assert result.exception.field == "--token"
    assert SECRET not in str(result.exception) and SECRET not in result.output
