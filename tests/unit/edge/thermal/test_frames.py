"""Thermal frames: units and Planck's law to °C, files read back, and bad frames refused clearly."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from lineguard.config.thermal import ThermalCalibration, ThermalFolderSource
from lineguard.contracts.errors import ImageDecodeError, InputError
from lineguard.edge.thermal import ThermalFolderReader, ThermalFrameError, read_thermal_file, to_celsius

CENTI_K = ThermalCalibration(units="centi_kelvin")
# Constants of the order of a microbolometer's (FLIR publishes them per camera).
PLANCK = ThermalCalibration(units="raw", planck_r=16556.0, planck_b=1428.0, planck_f=1.0, planck_o=-342.0)
T0 = dt.datetime(2026, 12, 5, 6, 0, tzinfo=dt.UTC)


def test_radiometric_units_scale_to_celsius() -> None:
    raw = np.array([[29815, 27315], [37315, 0]], np.uint16)
    np.testing.assert_allclose(to_celsius(raw, CENTI_K), [[25.0, 0.0], [100.0, -273.15]], atol=1e-4)
    assert to_celsius(np.array([[2982]], np.uint16), ThermalCalibration(units="deci_kelvin"))[0, 0] == (
        pytest.approx(25.05, abs=1e-4)
    )
    assert to_celsius(np.array([[2500]], np.uint16), ThermalCalibration(units="centi_celsius"))[0, 0] == 25.0


def test_raw_counts_follow_plancks_law_and_impossible_counts_give_nan() -> None:
    counts = np.array([[10000, 20000, 65535]], np.uint16)
    got = to_celsius(counts, PLANCK)
    want = [1428.0 / math.log(16556.0 / (c + 342.0) + 1.0) - 273.15 for c in (10000, 20000, 65535)]
    assert got[0].tolist() == pytest.approx(want, abs=1e-3)
    assert got[0, 0] < got[0, 1] < got[0, 2]  # more counts, hotter
    below_offset = ThermalCalibration(units="raw", planck_r=1.0, planck_b=1.0, planck_f=1.0, planck_o=100.0)
    assert np.isnan(to_celsius(np.array([[50, 100]], np.uint16), below_offset)).all()


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        (np.zeros((4, 4), np.uint8), "expected 16-bit radiometric values, got 8-bit uint8"),
        (np.zeros((4, 4), np.float32), "got 32-bit float32"),
        (np.zeros((4, 4, 3), np.uint16), "single-channel thermal frame, got 3 channels"),
        (np.zeros((0, 4), np.uint16), "empty"),
    ],
)
def test_frames_that_are_not_radiometric_are_refused_saying_why(frame: np.ndarray, says: str) -> None:
    with pytest.raises(ThermalFrameError, match=says) as caught:
        to_celsius(frame, CENTI_K, name="f.png")
    assert caught.value.code == "thermal_frame_invalid"
    assert isinstance(caught.value, InputError)


def test_raw_frames_without_their_constants_are_refused_naming_them() -> None:
    with pytest.raises(ValidationError, match="missing: planck_b, planck_o"):
        ThermalCalibration(units="raw", planck_r=1.0, planck_f=1.0)
    with pytest.raises(ValidationError, match="apply to raw frames only"):
        ThermalCalibration(units="centi_kelvin", planck_r=1.0)


def test_tiff_and_png16_files_read_back_to_the_same_celsius(tmp_path: Path) -> None:
    raw = np.arange(64, dtype=np.uint16).reshape(8, 8) * 10 + 29315
    for name in ("f.tiff", "f.png"):
        assert cv2.imwrite(str(tmp_path / name), raw)
        np.testing.assert_array_equal(read_thermal_file(tmp_path / name, CENTI_K), to_celsius(raw, CENTI_K))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ImageDecodeError, match=r"broken\.png"):
        read_thermal_file(tmp_path / "broken.png", CENTI_K)


def test_a_folder_is_read_in_order_and_bad_files_are_rejected_not_used(tmp_path: Path) -> None:
    frame = np.full((8, 8), 29815, np.uint16)
    cv2.imwrite(str(tmp_path / "cam_20261205T061000Z.png"), frame)
    cv2.imwrite(str(tmp_path / "cam_20261205T060000Z.png"), frame + 100)
    cv2.imwrite(str(tmp_path / "cam_20261205T060500Z.png"), np.full((8, 8), 120, np.uint8))  # an 8-bit export
    source = ThermalFolderSource(path=tmp_path, pattern="*.png", calibration=CENTI_K)
    reader = ThermalFolderReader(source, start_at=T0)
    frames = list(reader)
    assert [f.captured_at.strftime("%H%M") for f in frames] == ["0600", "0610"]
    assert [float(f.celsius[0, 0]) for f in frames] == pytest.approx([26.0, 25.0])
    assert reader.rejected == [
        (
            "cam_20261205T060500Z.png",
            "cam_20261205T060500Z.png: expected 16-bit radiometric values, got 8-bit uint8",
        )
    ]
    with pytest.raises(ThermalFrameError):
        list(ThermalFolderReader(source, start_at=T0, strict=True))


def test_multi_page_tiff_frames_are_spaced_by_the_period(tmp_path: Path) -> None:
    pages = [np.full((8, 8), 29315 + 100 * i, np.uint16) for i in range(3)]
    assert cv2.imwritemulti(str(tmp_path / "seq.tiff"), pages)
    source = ThermalFolderSource(path=tmp_path, calibration=CENTI_K, frame_period_s=30)
    frames = list(ThermalFolderReader(source, start_at=T0))
    assert [f.captured_at - T0 for f in frames] == [dt.timedelta(seconds=s) for s in (0, 30, 60)]
    assert [float(f.celsius[0, 0]) for f in frames] == pytest.approx([20.0, 21.0, 22.0])


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    source = ThermalFolderSource(path=tmp_path / "nope", calibration=CENTI_K)
    with pytest.raises(InputError, match="does not exist"):
        ThermalFolderReader(source, start_at=T0)
