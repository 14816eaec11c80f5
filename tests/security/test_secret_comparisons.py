"""Secrets are compared in constant time: either looked up by their keyed hash (an index probe on an HMAC) or
checked with ``hmac.compare_digest``; a plain ``==`` on a secret in the code is a failure here."""

from __future__ import annotations

import ast
import datetime as dt
import hmac
import re
from pathlib import Path
from typing import Any

import pytest

from casework.cases.confirmation import CodeRefused, check_code
from casework.cases.models import ConfirmationCode
from casework.cases.tokens import token_hmac
from casework.privacy.models import ErasureCode

SOURCE = Path(__file__).resolve().parents[2] / "casework"
SECRET_NAME = re.compile(r"token|secret|password|passwd|_hmac|signature|csrf|code$|digest|sha256", re.IGNORECASE)
# Comparisons whose names look secret but whose values are not, each with the reason.
NOT_SECRET = {
    ("jobs/claims.py", "model.claim_token == token"): "a worker's lease on a job row, never from a request",
    ("evidence/views.py", "given == found.sha256"): "a letter's SHA-256 is public: the same page prints it",
}


def _names(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.Call):
        return _names(node.func)
    return []


def _is_sql_column(node: ast.expr) -> bool:
    """``Model.column == value`` builds SQL (an indexed lookup), it compares nothing in Python."""
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id[:1].isupper()


def _plain_comparisons_of_secrets(root: Path = SOURCE) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Compare) or not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(_is_sql_column(operand) for operand in operands):
                continue
            if any(isinstance(operand, ast.Constant) for operand in operands):
                continue  # against a literal: a mode or a marker, not a stored secret
            if not any(SECRET_NAME.search(name) for operand in operands for name in _names(operand)):
                continue
            where = (str(path.relative_to(root)), ast.get_source_segment(text, node) or "")
            if where not in NOT_SECRET:
                found.append(f"{where[0]}:{node.lineno}: {where[1]}")
    return found


def test_no_secret_is_compared_with_a_plain_equals() -> None:
    assert _plain_comparisons_of_secrets() == []


def test_the_audit_sees_a_plain_comparison_of_a_secret(tmp_path: Path) -> None:
    """The scan itself is checked: what it exists to catch is caught, a keyed-hash lookup is not."""
    (tmp_path / "views.py").write_text(
        "ok = row.code_hmac == token_hmac(key, code)\n"
        "same = known.body_sha256 != digest\n"
        "query = select(AccessToken).where(AccessToken.token_hmac == digest)\n"
        "fine = hmac.compare_digest(row.code_hmac, token_hmac(key, code))\n"
        "mode = scheme.lower() == 'bearer'\n")
    assert _plain_comparisons_of_secrets(tmp_path) == [
        "views.py:1: row.code_hmac == token_hmac(key, code)", "views.py:2: known.body_sha256 != digest"]


NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
KEY = "k" * 40


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Every call of ``hmac.compare_digest`` while the test runs."""
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


@pytest.mark.parametrize(("model", "check"), [(ConfirmationCode, check_code), (ErasureCode, check_code)])
def test_e_mailed_codes_are_checked_in_constant_time(compared: list[tuple[Any, Any]], model: Any,
                                                     check: Any) -> None:
    row = model(code_hmac=token_hmac(KEY, "7K3M9QXD"), attempts=0, expires_at=NOW + dt.timedelta(days=1))
    with pytest.raises(CodeRefused):
        check(row, "AAAA-AAAA", KEY, NOW)
    assert compared == [(row.code_hmac, token_hmac(KEY, "AAAAAAAA"))]
    check(row, "7k3m-9qxd", KEY, NOW)
    assert row.used_at == NOW
    assert len(compared) == 2
