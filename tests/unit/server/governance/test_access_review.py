"""Access reviews on a real database: the snapshot lists every account and finding, sign-off is
for named reviewers only, revocations go through access control, everything is audited, and an
overdue review is flagged by the review itself and by the doctor."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner

from lineguard.cli.main import cli
from lineguard.contracts.errors import ConflictError, InputError, PermissionDeniedError
from lineguard.server.audit import DatabaseLog
from lineguard.server.auth import AuthRuntime, Role, enroll_without_browser, user_by_name
from lineguard.server.governance import (
    access_review_status,
    doctor,
    get_review,
    sign_off_review,
    start_review,
)
from lineguard.server.protection import default_sealer
from tests.unit.server.governance.plant import NOW, OWNERS, Plant, open_plant


@pytest.fixture
def plant(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Plant]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LINEGUARD_KEYRING_PASSPHRASE", "access review test keyring passphrase")
    with open_plant(db_url, tmp_path / "server", owners=OWNERS) as p:
        p.add_person("ada.audit", [Role.AUDITOR])
        p.add_person("ivan.it", [Role.IT_ADMINISTRATOR])
        p.add_person("quinn.quality", [Role.QUALITY_ENGINEER], mfa=False)
        p.add_person("old.timer", [Role.MAINTENANCE_TECHNICIAN], last_login=NOW - timedelta(days=90))
        p.add_person("pat.partner", [Role.EXTERNAL_PARTNER], lines=["line-1"], until=NOW + timedelta(days=3))
        yield p


def _events(plant: Plant, prefix: str) -> list[tuple[str, str, dict[str, object]]]:
    with plant.sessions() as session:
        return [
            (e.name, e.actor, json.loads(e.payload))
            for e in DatabaseLog(session, site_id="plant-a").entries()
            if e.name.startswith(prefix)
        ]


def test_a_review_lists_every_account_and_what_needs_a_decision(plant: Plant) -> None:
    with plant.sessions() as session:
        review = start_review(session, settings=plant.settings, actor="cli:access-review.t", now=NOW)
    accounts = {a["username"]: a for a in review.snapshot["accounts"]}
    assert set(accounts) == {"ada.audit", "ivan.it", "quinn.quality", "old.timer", "pat.partner"}
    partner = accounts["pat.partner"]["grants"][0]
    assert partner["role"] == "external_partner"
    assert partner["scope"] == "plant-a: line-1"
    assert partner["until"] == "2026-12-04T09:00:00.000000Z"
    assert accounts["old.timer"]["last_sign_in"] == "2026-09-02T09:00:00.000000Z"
    kinds = {(f["kind"], f["username"]) for f in review.snapshot["findings"]}
    assert kinds == {
        ("dormant", "old.timer"),
        ("mfa_missing", "quinn.quality"),
        ("partner_expiring", "pat.partner"),
    }
    assert _events(plant, "governance.") == [
        ("governance.access_review_started", "cli:access-review.t", {"review_id": review.id, "accounts": 5,
                                                                      "findings": 3, "outcome": "success"})
    ]  # fmt: skip
    with plant.sessions() as session, pytest.raises(ConflictError, match="still open"):
        start_review(session, settings=plant.settings, actor="cli:t", now=NOW)


def test_sign_off_by_a_named_reviewer_revokes_and_is_audited(plant: Plant) -> None:
    with plant.sessions() as session:
        review = start_review(session, settings=plant.settings, actor="cli:t", now=NOW)
    grant = next(a for a in review.snapshot["accounts"] if a["username"] == "old.timer")["grants"][0][
        "grant_id"
    ]
    with plant.sessions() as session:
        with pytest.raises(PermissionDeniedError, match=r"quinn\.quality may not sign off"):
            sign_off_review(
                session, settings=plant.settings, review_id=review.id, reviewer="quinn.quality", revoke=[]
            )
        with pytest.raises(InputError, match="grants not in review"):
            sign_off_review(
                session,
                settings=plant.settings,
                review_id=review.id,
                reviewer="ada.audit",
                revoke=["grt_nope"],
            )
        signed = sign_off_review(
            session, settings=plant.settings, review_id=review.id, reviewer="ada.audit", revoke=[grant],
            note="left the plant", now=NOW + timedelta(hours=2),
        )  # fmt: skip
        assert signed.revoked_grants == [grant]
        with pytest.raises(ConflictError, match=r"signed off already by ada\.audit"):
            sign_off_review(
                session, settings=plant.settings, review_id=review.id, reviewer="ivan.it", revoke=[]
            )
        report = doctor(session, settings=plant.settings, now=NOW + timedelta(days=1))
    revoked = _events(plant, "user.role_revoked")
    assert [(actor, fields["username"]) for _, actor, fields in revoked] == [("user:ada.audit", "old.timer")]
    signed_off = _events(plant, "governance.access_review_signed_off")
    assert signed_off[0][1] == "user:ada.audit"
    assert signed_off[0][2]["revoked_grants"] == 1
    assert signed_off[0][2]["overdue"] is True  # the first review ever: nothing was signed before
    assert report.status_of("security.access_review") == "pass"
    assert report.status_of("access.dormant_accounts") == "pass"  # the dormant grant is gone


def test_an_overdue_review_is_flagged(plant: Plant) -> None:
    with plant.sessions() as session:
        review = start_review(session, settings=plant.settings, actor="cli:t", now=NOW)
        sign_off_review(
            session, settings=plant.settings, review_id=review.id, reviewer="ivan.it", revoke=[], now=NOW
        )
        _, overdue, due = access_review_status(session, settings=plant.settings, now=NOW + timedelta(days=30))
        assert (overdue, due) == (False, "next due 2027-03-01")
        later = NOW + timedelta(days=91)
        _, overdue, due = access_review_status(session, settings=plant.settings, now=later)
        assert overdue is True
        assert due == "overdue since 2027-03-01 (every 90 days)"
        report = doctor(session, settings=plant.settings, now=later)
    assert report.status_of("security.access_review") == "fail"


def test_the_cli_starts_shows_and_signs_off(plant: Plant, tmp_path: Path) -> None:
    config = str(plant.write_config(tmp_path / "server.yaml"))
    runner = CliRunner()
    started = runner.invoke(cli, ["access-review", "start", "--config", config])
    assert started.exit_code == 0, started.output
    assert (
        "5 accounts" in started.output
    )  # (the CLI runs on the real clock: the partner grant may have ended)
    shown = runner.invoke(cli, ["access-review", "show", "--config", config])
    assert shown.exit_code == 0, shown.output
    assert "OVERDUE: no access review was ever signed off" in shown.output
    assert "dormant: old.timer" in shown.output
    assert "mfa_missing: quinn.quality" in shown.output
    assert "quality_engineer on plant-a" in shown.output
    body = json.loads(runner.invoke(cli, ["access-review", "show", "--config", config, "--json"]).output)
    review_id = body["id"]
    assert body["status"] == "open"
    refused = runner.invoke(
        cli, ["access-review", "sign-off", "--config", config, "--review", review_id, "--as", "pat.partner"]
    )
    assert refused.exit_code == 2
    assert "may not sign off access reviews" in refused.output
    password, secret = _own_credentials(plant, "ivan.it")
    ok = runner.invoke(
        cli,
        ["access-review", "sign-off", "--config", config, "--review", review_id, "--as", "ivan.it"],
        input=f"{password}\n{pyotp.TOTP(secret).at(time.time() + 30)}\n",
    )
    assert ok.exit_code == 0, ok.output
    assert f"signed off {review_id} as ivan.it; revoked 0 grants" in ok.output
    assert password not in ok.output
    confirmed = _events(plant, "auth.person_confirmed")
    assert [(f["username"], f["purpose"]) for _, _, f in confirmed] == [("ivan.it", "access_review.sign_off")]


def _own_credentials(plant: Plant, username: str) -> tuple[str, str]:
    """Give ``username`` their own password and authenticator, as at a first sign-in."""
    runtime = AuthRuntime.build(plant.settings.site_id, plant.settings.auth)  # the real clock: TOTP
    password = "ivans own long passphrase 42"
    with plant.sessions() as session:
        user = user_by_name(session, username)
        assert user is not None
        user.password_hash, user.must_change_password, user.totp_sealed = (
            runtime.hasher.hash(password),
            False,
            None,
        )
        session.commit()
        secret = enroll_without_browser(
            session,
            runtime=runtime,
            user=user,
            sealer=default_sealer(plant.settings, plant.sessions),
            code_of=lambda s: pyotp.TOTP(s).now(),
            audit=plant.audit,
        )
    return password, secret


@pytest.fixture
def open_review(plant: Plant, tmp_path: Path) -> tuple[str, str, str, str]:
    """(config, review id, ivan's password, ivan's TOTP secret) for an open review."""
    config = str(plant.write_config(tmp_path / "server.yaml"))
    with plant.sessions() as session:
        review = start_review(session, settings=plant.settings, actor="cli:t", now=NOW)
    return config, review.id, *_own_credentials(plant, "ivan.it")


@pytest.mark.parametrize("typed", ["nothing", "wrong_password", "wrong_code", "someone_elses_password"])
def test_the_host_operator_cannot_sign_off_as_the_reviewer(
    plant: Plant, open_review: tuple[str, str, str, str], typed: str
) -> None:
    """Review finding 11 for access reviews: ``--as`` names the reviewer, it does not prove them."""
    config, review_id, password, secret = open_review
    code = pyotp.TOTP(secret).at(time.time() + 30)
    stdin = {
        "nothing": "",
        "wrong_password": f"not ivans password at all\n{code}\n",
        "wrong_code": f"{password}\n{'000000' if code != '000000' else '111111'}\n",
        "someone_elses_password": f"{PASSWORD_OF_ADA}\n{code}\n",
    }[typed]
    if typed == "someone_elses_password":
        _set_password(plant, "ada.audit", PASSWORD_OF_ADA)
    result = CliRunner().invoke(
        cli,
        ["access-review", "sign-off", "--config", config, "--review", review_id, "--as", "ivan.it"],
        input=stdin,
    )
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    with plant.sessions() as session:
        assert get_review(session, review_id).signed_off_at is None
    assert _events(plant, "governance.access_review_signed_off") == []
    assert _events(plant, "auth.person_confirmed") == []
    if typed != "nothing":
        failures = _events(plant, "auth.login_failed") + _events(plant, "auth.mfa_failed")
        assert failures, "a failed confirmation is audited like a failed sign-in"


PASSWORD_OF_ADA = "adas own long passphrase 42"


def _set_password(plant: Plant, username: str, password: str) -> None:
    runtime = AuthRuntime.build(plant.settings.site_id, plant.settings.auth)
    with plant.sessions() as session:
        user = user_by_name(session, username)
        assert user is not None
        user.password_hash, user.must_change_password = runtime.hasher.hash(password), False
        session.commit()
