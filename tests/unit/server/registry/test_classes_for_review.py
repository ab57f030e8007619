"""The registry keeps each package's defect classes, and the review route refuses an
overrule to a class the registered package does not know (400, nothing changed)."""

from __future__ import annotations

from pathlib import Path

from lineguard.server.review import ALERT, Proposal, propose_many
from lineguard.signing.sign import sign_package
from lineguard.vision.classes import DefectClassesSpec
from lineguard.vision.package import load_package, save_package
from tests.unit.server.registry.conftest import RegistryWorld


def _package_with_classes(world: RegistryWorld) -> tuple[Path, str, str]:
    """A signed tiny package whose metadata names dent and scratch; (path, model_id, sha256)."""
    path = world.package(sign=False)
    package = load_package(path)
    classes = DefectClassesSpec(
        names=["dent", "scratch"],
        prototypes=[[1.0, 0.0], [0.0, 1.0]],
        inv_var=[1.0, 1.0],
        cutoff=0.5,
        cutoff_method="test",
        examples={"dent": 1, "scratch": 1},
    )
    meta = package.metadata.model_copy(update={"defect_classes": classes, "model_id": "mdl_classes"})
    save_package(path, model_bytes=package.model_bytes, metadata=meta, overwrite=True)
    sign_package(path, world.key())
    return path, "mdl_classes", package.digest


def test_the_route_refuses_an_overrule_to_a_class_not_in_the_registered_package(world: RegistryWorld) -> None:
    h = world.harness
    path, model_id, sha256 = _package_with_classes(world)
    registered = world.upload(path, world.as_person(world.alice))
    assert registered.status_code == 201, registered.text
    assert registered.json()["class_names"] == ["dent", "scratch"]
    with h.context.sessions() as s:
        propose_many(
            s,
            kind=ALERT,
            proposals=[
                Proposal(
                    subject_id=f"alr_{i}",
                    site_id=h.runtime.site,
                    line_id="line-1",
                    raised_at=h.clock.now,
                    content={
                        "kind": "defect",
                        "judged": True,
                        "verdict": "fail",
                        "defect_class": "scratch",
                        "model": {"model_id": model_id, "version": 1, "sha256": sha256},
                    },
                )
                for i in (1, 2)
            ],
            actor="node:n1",
            audit=h.trail,
            now=h.clock.now,
        )
        s.commit()
    csrf = world.as_person(world.alice)
    url = "/api/v1/reviews/alert"
    body = {"version": 1, "decision": "overrule", "label": "other_class", "reason": "looked at it"}
    refused = h.client.post(f"{url}/alr_1/decide", json=body | {"defect_class": "rust"}, headers=csrf)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "input_invalid"
    assert (
        "'rust' is not one of the model's classes: dent, scratch, unknown_anomaly"
        in refused.json()["message"]
    )
    assert h.client.get(f"{url}/alr_1").json()["item"]["state"] == "new"
    assert "ai.decision" not in h.trail.names()
    accepted = h.client.post(f"{url}/alr_2/decide", json=body | {"defect_class": "dent"}, headers=csrf)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["item"]["human_outcome"]["defect_class"] == "dent"
    assert accepted.json()["steps"][-1]["detail"]["class_check"]["result"] == "checked"
