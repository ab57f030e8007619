"""An overrule names a defect class: it must be one the model behind the verdict knows.

The server knows a model version's classes from its registered package (the registry
keeps them at registration); ingest names the model in each verdict proposal. Unit tests
on the workflow (SQLite and PostgreSQL) cover every case of ``ClassList``; the route test
(``tests/unit/server/registry/test_classes_for_review.py``) goes through registration of a
real signed package and the review route.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.errors import InputError
from lineguard.server.registry import ModelVersion, model_classes
from lineguard.server.review import ALERT, Decision, decide, get_item, steps_of
from tests.unit.server.conftest import AuditTrail
from tests.unit.server.review.conftest import T0, defect_alert, later, propose

QE = "user:quinn"
SHA = "ab" * 32


def _register(s: Session, *, version: int, class_names: list[str] | None, model_id: str = "mdl_tile") -> None:
    s.add(
        ModelVersion(
            id=f"mv_{model_id}_{version}",
            model_id=model_id,
            version=version,
            sha256=SHA,
            signer_key_id="k1",
            state="approved",
            registered_by="usr_1",
            registered_by_actor="user:alice",
            registered_at=T0,
            class_names=class_names,
        )
    )
    s.commit()


def _overrule(s: Session, trail: AuditTrail, defect_class: str, subject: str = "alr_1") -> Any:
    return decide(
        s,
        kind=ALERT,
        item=get_item(s, kind=ALERT, subject_id=subject),
        version=1,
        decision=Decision.OVERRULE,
        label="other_class",
        defect_class=defect_class,
        reason="looked at it",
        actor=QE,
        audit=trail,
        now=later(1),
    )


MODEL = {"model_id": "mdl_tile", "version": 2, "sha256": SHA}


def test_a_class_the_registered_package_does_not_know_is_refused_and_changes_nothing(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    with sessions() as s:
        _register(s, version=1, class_names=["crack"])
        _register(s, version=2, class_names=["dent", "scratch"])  # same graph registered again: latest wins
        assert model_classes(s, model_id="mdl_tile", sha256=SHA) == ["dent", "scratch"]
        propose(s, audit_trail, defect_alert("alr_1", model=MODEL))
        with pytest.raises(
            InputError,
            match=r"'crack' is not one of the model's classes: dent, scratch, unknown_anomaly "
            r"\(from the registered package of model mdl_tile",
        ):
            _overrule(s, audit_trail, "crack")
        s.rollback()
        item = get_item(s, kind=ALERT, subject_id="alr_1")
        assert (item.state, item.version, item.human_outcome) == ("new", 1, None)
    assert audit_trail.names() == ["ai.recommendation"]


@pytest.mark.parametrize("chosen", ["dent", "unknown_anomaly"])
def test_a_known_class_is_accepted_and_the_step_says_it_was_checked(
    sessions: sessionmaker[Session], audit_trail: AuditTrail, chosen: str
) -> None:
    with sessions() as s:
        _register(s, version=2, class_names=["dent", "scratch"])
        propose(s, audit_trail, defect_alert("alr_1", model=MODEL))
        item = _overrule(s, audit_trail, chosen)
        assert item.human_outcome == {"verdict": "fail", "defect_class": chosen, "label": "other_class"}
        decided = steps_of(s, review_id=item.review_id)[-1]
        assert decided.detail["class_check"]["result"] == "checked"


@pytest.mark.parametrize(
    ("class_names", "model", "result", "source"),
    [
        # The package names no classes (all regions "anomaly"): a person's class is a new label.
        ([], MODEL, "new_label", "registered package"),
        # Registered before the registry kept classes: unknown, accepted unchecked.
        (None, MODEL, "unchecked", "not registered here with its classes"),
        # A model this server never registered (a package placed on the node by hand).
        (["dent"], {"model_id": "mdl_elsewhere", "version": 1, "sha256": SHA}, "unchecked", "mdl_elsewhere"),
        # A proposal from before ingest named the model.
        (["dent"], None, "unchecked", "no model named by the proposal"),
    ],
)
def test_without_a_class_list_a_well_formed_class_is_accepted_and_marked(
    sessions: sessionmaker[Session],
    audit_trail: AuditTrail,
    class_names: list[str] | None,
    model: dict[str, Any] | None,
    result: str,
    source: str,
) -> None:
    with sessions() as s:
        _register(s, version=2, class_names=class_names)
        content = {} if model is None else {"model": model}
        propose(s, audit_trail, defect_alert("alr_1", **content))
        item = _overrule(s, audit_trail, "rust")
        assert item.human_outcome["defect_class"] == "rust"
        check = steps_of(s, review_id=item.review_id)[-1].detail["class_check"]
        assert check["result"] == result and source in check["source"]


def test_decisions_that_name_no_class_are_not_checked(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    with sessions() as s:
        _register(s, version=2, class_names=["dent"])
        propose(s, audit_trail, defect_alert("alr_1", model=MODEL, defect_class="scratch"))
        item = decide(
            s,
            kind=ALERT,
            item=get_item(s, kind=ALERT, subject_id="alr_1"),
            version=1,
            decision=Decision.OVERRULE,
            label="false_call",
            reason="dust",
            actor=QE,
            audit=audit_trail,
            now=later(1),
        )
        assert "class_check" not in steps_of(s, review_id=item.review_id)[-1].detail
