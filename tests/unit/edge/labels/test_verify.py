"""Label checks on generated labels, with the real readers (zxing-cpp and RapidOCR's models)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pydantic import ValidationError

from lineguard.config.labels import ExpectedLabel, LabelField, LabelRegion, LabelStageConfig
from lineguard.contracts.errors import ConfigError, InputError, NotFoundError
from lineguard.edge.labels import (
    CodeReader,
    LabelCheck,
    LabelVerifier,
    RapidTextReader,
    Reason,
    TableExpectedLabels,
    TextLine,
)
from lineguard.edge.labels.render import (
    Degradation,
    LabelContent,
    capture,
    degrade,
    place,
    print_label,
    render_label,
)
from lineguard.edge.labels.restore import bridge_print_gaps

pytestmark = pytest.mark.slow  # RapidOCR's models load once per module (~1 s), then ~0.3 s a label

FRAME = (1200, 600)
GOOD = LabelContent("4711-0815", "09501101530003", "A12345", dt.date(2026, 12, 5), 12)
EXPECTED = ExpectedLabel(
    part_number="4711-0815", gtin="09501101530003", lot="A12345", date=dt.date(2026, 12, 5), quantity=12
)
CONFIG = LabelStageConfig(
    kind="label",
    name="carton-label",
    order="PO-1",
    region=LabelRegion(x=20, y=40, width=1160, height=540),
    code_formats=["DataMatrix", "Code128"],
    text_fields=[LabelField.PART_NUMBER, LabelField.LOT, LabelField.DATE, LabelField.QUANTITY],
)


def _config(**changes: object) -> LabelStageConfig:
    """CONFIG with changes, validated again (model_copy would skip the checks)."""
    return LabelStageConfig.model_validate(CONFIG.model_dump() | changes)


@pytest.fixture(scope="module")
def verifier() -> LabelVerifier:
    return LabelVerifier(CONFIG, codes=CodeReader(CONFIG.code_formats), text=RapidTextReader())


CLEAN = Degradation()


def _check(
    verifier: LabelVerifier, content: LabelContent, d: Degradation = CLEAN, code: str = "DataMatrix"
) -> LabelCheck:
    label = degrade(render_label(content, code=code), d, np.random.default_rng(7))  # type: ignore[arg-type]
    return verifier.check(place(label, frame_size=FRAME), EXPECTED)


def _reasons(check: LabelCheck) -> set[tuple[str, str]]:
    return {(f.reason, f.subject) for f in check.failures}


@pytest.mark.parametrize("code", ["DataMatrix", "Code128"])
def test_the_expected_label_passes_and_every_field_was_read(verifier: LabelVerifier, code: str) -> None:
    check = _check(verifier, GOOD, code=code)
    assert check.passed, check.failures
    assert check.read["code.lot"] == "A12345"
    assert check.read["code.date"] == "2026-12-05"
    assert check.read["text.part_number"].replace(" ", "-") == "4711-0815"


def test_a_degraded_but_acceptable_label_still_passes(verifier: LabelVerifier) -> None:
    d = Degradation(perspective=0.05, blur_sigma_px=1.0, glare=80, contrast=0.5, defects=4, noise_std=5)
    check = _check(verifier, GOOD, d)
    assert check.passed, check.failures


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lot": "A12346"}, "lot"),
        ({"quantity": 13}, "quantity"),
        ({"date": dt.date(2026, 12, 6)}, "date"),
        ({"gtin": "09501101530010"}, "gtin"),
        ({"part_number": "4711-0816"}, "part_number"),
    ],
)
def test_a_wrong_field_fails_naming_it(
    verifier: LabelVerifier, change: dict[str, object], field: str
) -> None:
    check = _check(verifier, GOOD.with_(**change))
    assert _reasons(check) == {(Reason.MISMATCH, field)}, check.failures


def _as_expected(content: LabelContent) -> ExpectedLabel:
    return ExpectedLabel(
        part_number=content.part_number,
        gtin=content.gtin,
        lot=content.lot,
        date=content.date,
        quantity=content.quantity,
    )


#: Acceptable labels of ``bench/bench_labels.py --seed 11`` (labels 97, 135, 185, 209) that the
#: reader refused before dead printhead lines were bridged: a line through "28" read "26", one
#: through "3538" read "3536", two hid the QTY line from the text detector, one cut the
#: DataMatrix beyond its error correction. (content, code, degradation, noise seed) as drawn.
CUT_BY_DEAD_LINES = [
    (
        LabelContent("9061-9636", "06184010595856", "P29923", dt.date(2027, 5, 28), 6),
        "Code128",
        Degradation(
            0.039490020170431565,
            0.7730812719322321,
            63.869431366929604,
            0.5543138244484928,
            5,
            0.2572362755888744,
        ),
        4125807089,
    ),
    (
        LabelContent("1611-5087", "01099331132749", "G50299", dt.date(2026, 9, 6), 319),
        "DataMatrix",
        Degradation(
            0.03492936534444503,
            0.38862065166338283,
            46.54808061034376,
            0.5859025224623486,
            5,
            2.3552066026935536,
        ),
        3747146835,
    ),
    (
        LabelContent("3538-6133", "09273701688612", "S63159", dt.date(2027, 9, 22), 18),
        "DataMatrix",
        Degradation(
            0.0011434942292600913,
            0.8681938083009829,
            86.48897382890725,
            0.6694317815831511,
            5,
            2.4829533800436936,
        ),
        3603915414,
    ),
    (
        LabelContent("9845-1914", "07967958888520", "G88619", dt.date(2026, 3, 25), 43),
        "Code128",
        Degradation(
            0.01926076783120832,
            0.3948897635486813,
            26.058133189022854,
            0.5972636666266558,
            4,
            2.4780854583494714,
        ),
        295843265,
    ),
]


def _cut(content: LabelContent, code: str, d: Degradation, seed: int) -> np.ndarray:
    label = degrade(render_label(content, code=code), d, np.random.default_rng(seed))  # type: ignore[arg-type]
    return place(label, frame_size=FRAME)


@pytest.mark.parametrize(("content", "code", "d", "seed"), CUT_BY_DEAD_LINES)
def test_labels_cut_by_dead_printhead_lines_are_read_with_the_lines_bridged(
    verifier: LabelVerifier, content: LabelContent, code: str, d: Degradation, seed: int
) -> None:
    check = verifier.check(_cut(content, code, d, seed), _as_expected(content))
    assert check.passed, check.failures
    assert {"code.gtin", "text.quantity", "text.date", "text.part_number"} <= set(check.read)


#: Acceptable labels of ``bench/bench_labels.py --seed 23`` (labels 502 and 844) whose DataMatrix
#: several dead printhead lines cut beyond its error correction: the 2 px bridge did not read
#: them, the taller ones tried on codes only (CODE_GAPS_PX) do.
CODES_CUT_BY_SEVERAL_LINES = [
    (
        LabelContent("7914-6975", "09980872397518", "N61526", dt.date(2026, 12, 18), 349),
        Degradation(0.042990987921419324, 0.6835157823380811, 0.0, 0.8596602498998225, 6, 4.0739185288149855),
        4273444414,
    ),
    (
        LabelContent("1405-2191", "01015002407305", "M51579", dt.date(2027, 8, 1), 183),
        Degradation(0.053825884673782236, 1.1040827932944086, 0.0, 0.4893636338740027, 5, 5.946855781855937),
        2576849173,
    ),
]


@pytest.mark.parametrize(("content", "d", "seed"), CODES_CUT_BY_SEVERAL_LINES)
def test_a_datamatrix_cut_by_several_dead_lines_decodes_with_taller_bridges(
    content: LabelContent, d: Degradation, seed: int
) -> None:
    frame = _cut(content, "DataMatrix", d, seed)
    region = frame[CONFIG.region.y :, CONFIG.region.x :]  # type: ignore[union-attr]
    reader = CodeReader(["DataMatrix"])
    (read,) = [r for r in reader.read(region) if r.error is None]
    assert content.lot in read.text and content.gtin in read.text
    first_passes = reader._read(np.ascontiguousarray(bridge_print_gaps(region[:, :, 0], gap_px=2)))
    assert not any(r.error is None for r in first_passes)  # what the text's bridge alone gave


@pytest.mark.parametrize(
    ("case", "field", "printed"),
    [(0, "date", "2027-05-26"), (2, "part_number", "3536-6133")],
)
def test_a_wrong_digit_under_a_dead_printhead_line_is_still_a_mismatch(
    verifier: LabelVerifier, case: int, field: str, printed: str
) -> None:
    """The digit a dead line makes of an 8 (a 6), printed for real, in the text only (the code
    agrees with the order): bridging the line must not turn it back into what was expected."""
    content, code, d, seed = CUT_BY_DEAD_LINES[case]
    wrong = content.with_(text_override=((field, printed),))
    check = verifier.check(_cut(wrong, code, d, seed), _as_expected(content))
    assert (Reason.MISMATCH, field) in _reasons(check), check.failures
    assert not check.passed


def test_printed_text_that_contradicts_the_code_fails_on_that_field(verifier: LabelVerifier) -> None:
    check = _check(verifier, GOOD.with_(text_override=(("lot", "A12399"),)))
    assert _reasons(check) == {(Reason.MISMATCH, "lot")}
    assert "read in the text" in check.failures[0].message
    assert "A12399" not in check.failures[0].message  # what the label said stays on the node


def test_an_upside_down_label_fails_as_such(verifier: LabelVerifier) -> None:
    check = _check(verifier, GOOD, Degradation(upside_down=True))
    assert (Reason.UPSIDE_DOWN, "label") in _reasons(check)
    assert all(f.reason == Reason.UPSIDE_DOWN for f in check.failures)


def test_an_empty_label_region_fails_as_missing(verifier: LabelVerifier) -> None:
    check = verifier.check(place(None, frame_size=FRAME), EXPECTED)
    assert _reasons(check) == {(Reason.MISSING, "label")}


def test_a_gtin_with_a_bad_check_digit_fails_as_bad_checksum(verifier: LabelVerifier) -> None:
    check = _check(verifier, GOOD.with_(gtin="09501101530004"))
    assert (Reason.BAD_CHECKSUM, "gtin") in _reasons(check)
    assert "check digit" in check.failures[0].message


def test_a_label_whose_code_is_destroyed_fails_as_unreadable(verifier: LabelVerifier) -> None:
    label = render_label(GOOD)
    label[15:135, 15:135] = np.where(np.arange(120)[:, None] % 6 < 3, 0, 255)[..., None]  # code smeared
    check = verifier.check(place(label, frame_size=FRAME), EXPECTED)
    assert (Reason.UNREADABLE, "code") in _reasons(check)
    assert check.failures and not check.passed


def test_a_code_without_a_field_the_order_expects_fails_as_missing() -> None:
    config = _config(text_fields=[])
    verifier = LabelVerifier(config, codes=CodeReader(config.code_formats), text=None)
    expected = EXPECTED.model_copy(update={"part_number": None})
    import zxingcpp

    symbol = zxingcpp.create_barcode(
        "(01)09501101530003(10)A12345", zxingcpp.BarcodeFormat.DataMatrix, gs1=True
    )
    card = np.pad(np.asarray(symbol.to_image(scale=6)), 30, constant_values=255)
    check = verifier.check(place(np.repeat(card[..., None], 3, axis=2), frame_size=FRAME), expected)
    assert _reasons(check) == {(Reason.MISSING, "date"), (Reason.MISSING, "quantity")}


def test_a_region_outside_the_frame_is_a_clear_error(verifier: LabelVerifier) -> None:
    with pytest.raises(InputError, match="reaches outside the 320x200 frame"):
        verifier.check(np.zeros((200, 320, 3), np.uint8), EXPECTED)


def test_a_stage_needs_the_readers_its_config_asks_for() -> None:
    with pytest.raises(InputError, match="requires a code but has no code reader"):
        LabelVerifier(CONFIG, codes=None, text=RapidTextReader())
    with pytest.raises(InputError, match="checks printed text but has no text reader"):
        LabelVerifier(CONFIG, codes=CodeReader(["DataMatrix"]), text=None)


def test_the_ocr_refuses_to_load_with_onnxruntime_telemetry_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORT_DISABLE_TELEMETRY", "0")
    with pytest.raises(ConfigError, match="telemetry"):
        RapidTextReader().read(np.full((40, 40, 3), 255, np.uint8))


def test_an_order_without_an_expected_label_is_not_checked_against_nothing() -> None:
    table = TableExpectedLabels({"PO-1": EXPECTED})
    assert table.expected_for("PO-1") is EXPECTED
    with pytest.raises(NotFoundError, match=r"no expected label for order 'PO-2'.*PO-1"):
        table.expected_for("PO-2")


def test_config_refuses_expectations_that_would_pass_anything() -> None:
    with pytest.raises(ValidationError, match="would accept any label"):
        ExpectedLabel()
    with pytest.raises(ValidationError, match="check digit is 4"):
        ExpectedLabel(gtin="09501101530004")
    with pytest.raises(ValidationError, match="needs a group"):
        _config(text_patterns={LabelField.PART_NUMBER: "P/N"})
    with pytest.raises(ValidationError, match="without a text_patterns entry"):
        _config(text_patterns={})
    with pytest.raises(ValidationError, match="reads neither a code nor text"):
        _config(code_required=False, text_fields=[])


class ScriptedText:
    """Answers each read with the next scripted list of lines: the OCR's output made exact,
    so the retry rule is tested on its own (the real reader is tested above)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls = 0

    def read(self, region: np.ndarray) -> list[TextLine]:
        self.calls += 1
        return [TextLine(t, 0.99, upside_down=False) for t in self.answers.pop(0)]


def _text_only(reader: ScriptedText) -> LabelVerifier:
    return LabelVerifier(_config(code_required=False), codes=None, text=reader)


TEXT_EXPECTED = EXPECTED.model_copy(update={"gtin": None})  # the GTIN is in the code only


def test_a_field_not_found_gets_a_second_look_on_the_equalised_region() -> None:
    first = ["P/N 4711-0815", "LOT A12345", "DATE 2026-12-05"]  # the QTY line lost in glare
    reader = ScriptedText(first, ["QTY 12"])
    check = _text_only(reader).check(place(render_label(GOOD), frame_size=FRAME), TEXT_EXPECTED)
    assert check.passed, check.failures
    assert reader.calls == 2


def test_a_value_read_wrong_is_not_read_again_until_it_agrees() -> None:
    lines = ["P/N 4711-0815", "LOT A12399", "DATE 2026-12-05", "QTY 12"]
    reader = ScriptedText(lines, ["LOT A12345"])
    check = _text_only(reader).check(place(render_label(GOOD), frame_size=FRAME), TEXT_EXPECTED)
    assert _reasons(check) == {(Reason.MISMATCH, "lot")}
    assert reader.calls == 1


def test_a_field_missing_from_both_looks_is_unreadable() -> None:
    reader = ScriptedText(["P/N 4711-0815", "LOT A12345", "QTY 12"], ["QTY 12"])
    check = _text_only(reader).check(place(render_label(GOOD), frame_size=FRAME), TEXT_EXPECTED)
    assert _reasons(check) == {(Reason.UNREADABLE, "date")}
    assert reader.calls == 2


# -- several views of one label: re-read before failing, never outvoted into a pass ------------

TEXT_OK = ["P/N 4711-0815", "LOT A12345", "DATE 2026-12-05", "QTY 12"]
TEXT_LOT_WRONG = ["P/N 4711-0815", "LOT A12395", "DATE 2026-12-05", "QTY 12"]


def _views(n: int) -> list[np.ndarray]:
    return [place(render_label(GOOD), frame_size=FRAME)] * n


def test_a_label_that_passes_on_its_first_view_is_read_once() -> None:
    reader = ScriptedText(TEXT_OK)
    check = _text_only(reader).check_views(_views(3), TEXT_EXPECTED)
    assert (check.passed, check.views_read, reader.calls) == (True, 1, 1)


def test_a_misread_first_view_is_overturned_by_two_views_that_pass() -> None:
    reader = ScriptedText(TEXT_LOT_WRONG, TEXT_OK, TEXT_OK)
    check = _text_only(reader).check_views(_views(3), TEXT_EXPECTED)
    assert (check.passed, check.failures, check.views_read) == (True, [], 3)


@pytest.mark.parametrize(
    "answers",
    [
        # one other view agrees with the expected label: one read is never enough to overturn
        [TEXT_LOT_WRONG, TEXT_OK, TEXT_LOT_WRONG],
        [TEXT_LOT_WRONG, TEXT_OK],
    ],
)
def test_a_failure_stands_unless_two_views_and_a_majority_pass(answers: list[list[str]]) -> None:
    reader = ScriptedText(*answers)
    check = _text_only(reader).check_views(_views(len(answers)), TEXT_EXPECTED)
    assert _reasons(check) == {(Reason.MISMATCH, "lot")}
    assert check.views_read == len(answers) == reader.calls


def test_at_most_three_views_are_read() -> None:
    # Views 4 and 5 would pass, but OCR is costly: the first three decide (two of them fail).
    reader = ScriptedText(TEXT_LOT_WRONG, TEXT_OK, TEXT_LOT_WRONG, TEXT_OK, TEXT_OK)
    check = _text_only(reader).check_views(_views(5), TEXT_EXPECTED)
    assert _reasons(check) == {(Reason.MISMATCH, "lot")}
    assert check.views_read == reader.calls == 3


def test_the_failure_reported_is_the_one_most_views_agree_on() -> None:
    unreadable_qty = ["P/N 4711-0815", "LOT A12345", "DATE 2026-12-05"]
    # view 1: QTY lost (then the second look finds nothing either); views 2 and 3: the lot differs
    reader = ScriptedText(unreadable_qty, [], TEXT_LOT_WRONG, TEXT_LOT_WRONG)
    check = _text_only(reader).check_views(_views(3), TEXT_EXPECTED)
    assert _reasons(check) == {(Reason.MISMATCH, "lot")}


def test_check_views_needs_a_frame() -> None:
    with pytest.raises(InputError, match="at least one frame"):
        _text_only(ScriptedText()).check_views([], TEXT_EXPECTED)


def test_a_wrong_label_seen_in_three_real_frames_still_fails_naming_its_field(
    verifier: LabelVerifier,
) -> None:
    wrong = GOOD.with_(part_number="4711-0816")
    label = render_label(wrong)
    d = Degradation(perspective=0.03, blur_sigma_px=0.8, glare=40.0, contrast=0.7, noise_std=4.0)
    printed = print_label(label, d, np.random.default_rng(3))
    frames = [place(capture(printed, d, np.random.default_rng([3, k])), frame_size=FRAME) for k in range(3)]
    check = verifier.check_views(frames, EXPECTED)
    assert (Reason.MISMATCH, "part_number") in _reasons(check)
    assert check.views_read == 3


def test_degrade_is_the_print_then_one_capture_with_the_same_draws() -> None:
    label = render_label(GOOD)
    d = Degradation(perspective=0.03, blur_sigma_px=0.8, glare=40.0, contrast=0.7, defects=4, noise_std=4.0)
    rng = np.random.default_rng(5)
    again = capture(print_label(label, d, rng), d, rng)
    assert np.array_equal(degrade(label, d, np.random.default_rng(5)), again)
