"""Every config mistake is reported with its key path, all at once, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lineguard.config import SecretRef, load_config, load_edge_config, load_server_config
from lineguard.contracts.errors import ConfigError, SecretError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def edge_example() -> dict[str, object]:
    loaded = yaml.safe_load((EXAMPLES / "edge.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def errors_for(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.details


def test_examples_are_valid() -> None:
    edge = load_edge_config(EXAMPLES / "edge.yaml")
    assert edge.cameras[0].roi is not None and edge.cameras[0].roi.width == 640
    server = load_server_config(EXAMPLES / "server.yaml")
    assert server.retention.audit_log_days >= 365


def test_error_names_the_key_path(tmp_path: Path) -> None:
    data = edge_example()
    data["cameras"][1]["roi"] = {"x": 0, "y": 0, "width": 0, "height": 10}  # type: ignore[index]
    assert errors_for(write(tmp_path, data)) == ["cameras[1].roi.width: must be > 0"]


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    data = edge_example()
    data["outbox"] = {"disk_budget_mb": 0}
    data["cameras"][0]["pass_sample_rate"] = 2  # type: ignore[index]
    data["cameras"][0]["colour"] = "red"  # type: ignore[index]
    found = errors_for(write(tmp_path, data))
    assert "outbox.disk_budget_mb: must be >= 1" in found
    assert "cameras[0].pass_sample_rate: must be <= 1" in found
    assert "cameras[0].colour: is not a known setting (check the spelling)" in found


def test_secret_values_are_refused_in_yaml(tmp_path: Path) -> None:
    data = edge_example()
    data["evidence"] = {"kek_passphrase": "hunter2"}
    found = errors_for(write(tmp_path, data))
    assert found and found[0].startswith("evidence.kek_passphrase:")


def test_database_password_in_url_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((EXAMPLES / "server.yaml").read_text(encoding="utf-8"))
    data["database"] = {"url": "postgresql+psycopg://lg:secret@db:5432/lg"}
    assert errors_for(write(tmp_path, data)) == [
        "database.url: must not contain a password: reference it with database.password instead"
    ]


def test_plain_http_server_link_is_refused(tmp_path: Path) -> None:
    data = edge_example()
    data["server"] = {"url": "http://server:8080"}
    assert errors_for(write(tmp_path, data))[0].startswith("server: must be an https:// URL")


def test_duplicate_camera_ids_are_refused(tmp_path: Path) -> None:
    data = edge_example()
    data["cameras"][1]["camera_id"] = "cam-top"  # type: ignore[index]
    assert "repeated: cam-top" in errors_for(write(tmp_path, data))[0]


def test_unknown_source_type_names_the_choices(tmp_path: Path) -> None:
    data = edge_example()
    data["cameras"][0]["source"] = {"type": "webcam"}  # type: ignore[index]
    assert errors_for(write(tmp_path, data))[0].startswith("cameras[0].source:")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: edge\nnode: [unclosed", "not valid YAML at line 2"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("kind: robot\n", None),
    ],
)
def test_broken_files_give_one_clear_error(tmp_path: Path, text: str, expected: str | None) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    if expected is None:
        assert info.value.details == ["kind: must be one of edge, enterprise, server, got 'robot'"]
    else:
        assert expected in info.value.message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def test_secret_ref_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LG_TEST_SECRET", "s3cret-value")
    assert SecretRef(env="LG_TEST_SECRET").resolve().get_secret_value() == "s3cret-value"
    assert "s3cret" not in repr(SecretRef(env="LG_TEST_SECRET").resolve())
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n", encoding="utf-8")
    assert SecretRef(file=secret_file).resolve().get_secret_value() == "from-file"
    with pytest.raises(SecretError, match="set the environment variable LG_ABSENT"):
        SecretRef(env="LG_ABSENT").resolve()
    monkeypatch.setenv("LG_DEMO", "lineguard-demo-abc")
    with pytest.raises(SecretError, match="demo secret"):
        SecretRef(env="LG_DEMO").resolve()
    assert SecretRef(env="LG_DEMO").resolve(allow_demo=True).get_secret_value() == "lineguard-demo-abc"
    monkeypatch.setenv("LINEGUARD_DEMO_MODE", "1")
    assert SecretRef(env="LG_DEMO").resolve().get_secret_value() == "lineguard-demo-abc"


def test_full_frame_evidence_without_a_written_purpose_is_refused(tmp_path: Path) -> None:
    data = edge_example()
    data["cameras"][0]["evidence"] = {"full_frame": True}  # type: ignore[index]
    data["cameras"][1]["evidence"] = {"full_frame": True, "full_frame_purpose": "  audit  "}  # type: ignore[index]
    found = errors_for(write(tmp_path, data))
    assert len(found) == 2
    assert found[0].startswith("cameras[0].evidence: full_frame: true stores the whole scene")
    assert "full_frame_purpose: a written reason of at least 20 characters, got ''" in found[0]
    assert found[1].startswith("cameras[1].evidence: full_frame: true stores the whole scene")
    assert "got 'audit'" in found[1]


def test_a_camera_without_roi_must_say_why_it_keeps_whole_frames(tmp_path: Path) -> None:
    data = edge_example()
    del data["cameras"][1]["evidence"]  # type: ignore[attr-defined, index]
    found = errors_for(write(tmp_path, data))
    assert len(found) == 1
    assert found[0].startswith("cameras[1]: no roi: evidence images would be the whole frame")
    assert "evidence.full_frame_purpose" in found[0]


def test_a_purpose_without_full_frame_is_refused_not_ignored(tmp_path: Path) -> None:
    data = edge_example()
    data["cameras"][0]["evidence"] = {"full_frame_purpose": "the conveyor and the operator's hands"}  # type: ignore[index]
    found = errors_for(write(tmp_path, data))
    assert found == [
        "cameras[0].evidence: full_frame_purpose is set but full_frame is false: "
        "remove the purpose or set full_frame"
    ]


def test_evidence_keeps_the_roi_and_a_small_margin_by_default() -> None:
    edge = load_edge_config(EXAMPLES / "edge.yaml")
    top, side = edge.cameras
    assert not top.evidence.full_frame and top.evidence.margin_px == 16
    assert (
        side.roi is None and side.evidence.full_frame and "framed tightly" in side.evidence.full_frame_purpose
    )


def test_replicas_need_postgresql(tmp_path: Path) -> None:
    base = {"kind": "server", "site_id": "plant-a", "data_dir": str(tmp_path / "d"), "http": {"replicas": 2}}
    details = errors_for(write(tmp_path, base))
    assert len(details) == 1
    assert "http.replicas is 2" in details[0] and "postgresql://" in details[0]
    base["database"] = {
        "url": "postgresql://lineguard@/lineguard?host=db1.plant.test:5432&host=db2.plant.test:5432"
    }
    assert load_server_config(write(tmp_path, base)).http.replicas == 2


def test_edge_mqtt_link_is_tls_only(tmp_path: Path) -> None:
    data = edge_example()
    data["server"]["mqtt"] = {"url": "mqtt://broker.plant.test:1883"}  # type: ignore[index]
    details = errors_for(write(tmp_path, data))
    assert len(details) == 1
    assert details[0].startswith("server.mqtt") and "TLS only" in details[0]
    data["server"]["mqtt"] = {"url": "mqtts://broker.plant.test:8883"}  # type: ignore[index]
    edge = load_edge_config(write(tmp_path, data))
    assert edge.server is not None and edge.server.mqtt is not None
    assert edge.server.mqtt.topic_prefix == "lineguard/nodes"


def test_internal_relay_limits_have_documented_defaults_and_checked_bounds(tmp_path: Path) -> None:
    base: dict[str, object] = {"kind": "server", "site_id": "plant-a", "data_dir": str(tmp_path / "d")}
    http = load_server_config(write(tmp_path, base)).http
    assert (
        http.internal_max_handoffs,
        http.internal_max_held_mib,
        http.internal_certificate_hours,
        http.internal_renew_fraction,
    ) == (8, 128, 24.0, 0.5)
    base["http"] = {
        "internal_max_handoffs": 0,
        "internal_max_held_mib": 4,  # less than one largest image (8 MiB)
        "internal_certificate_hours": 0.01,
        "internal_renew_fraction": 1.0,
    }
    assert sorted(errors_for(write(tmp_path, base))) == [
        "http.internal_certificate_hours: must be >= 1",
        "http.internal_max_handoffs: must be >= 1",
        "http.internal_max_held_mib: must be >= 8",
        "http.internal_renew_fraction: must be <= 0.9",
    ]
    base["http"] = {"internal_max_handoffs": 65, "internal_max_held_mib": "lots"}
    found = errors_for(write(tmp_path, base))
    assert "http.internal_max_handoffs: must be <= 64" in found
    assert any(e.startswith("http.internal_max_held_mib:") for e in found)
    base["http"] = {
        "internal_max_handoffs": 16,
        "internal_max_held_mib": 512,
        "internal_renew_fraction": 0.25,
    }
    tuned = load_server_config(write(tmp_path, base))
    assert (tuned.http.internal_max_handoffs, tuned.http.internal_max_held_mib) == (16, 512)
