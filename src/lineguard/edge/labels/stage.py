"""The label check as a camera stage (``cameras[].stages``, ``kind: label``).

:class:`LabelStage` adapts :class:`~lineguard.edge.labels.verify.LabelVerifier` to the node's
:class:`~lineguard.contracts.types.MultiViewStage`: the part's frames in (the decisive one
read first, the others only when it fails: :meth:`LabelVerifier.check_views`), a
:class:`~lineguard.contracts.types.StageOutcome` out — ``pass``, or ``fail`` with one reason
per problem (``code`` = ``mismatch``, ``unreadable``, ``missing``, ``upside_down``,
``bad_checksum``, ``ambiguous``; ``subject`` = the field). What it cannot judge is
``uncertain`` with a reason, never a pass: an order with no expected label
(``no_expected_label``), a label region outside the frame (``region_outside_frame``).
The expected row it used travels as an input, by digest, so a result says which
expectation it was checked against without carrying it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from lineguard.config.labels import LabelRegion, LabelStageConfig
from lineguard.contracts.errors import InputError, NotFoundError
from lineguard.contracts.events import BoundingBox, Verdict
from lineguard.contracts.stages import StageInput, StageKind, StageReason
from lineguard.contracts.types import Frame, StageOutcome
from lineguard.edge.labels.codes import CodeReader
from lineguard.edge.labels.expected import ExpectedLabelSource, TableExpectedLabels
from lineguard.edge.labels.ocr import RapidTextReader, TextReader
from lineguard.edge.labels.verify import LabelVerifier

__all__ = ["LabelStage", "build_label_stage"]


class LabelStage:
    """One camera's label check against the current order's expected label."""

    kind = StageKind.LABEL

    def __init__(
        self,
        config: LabelStageConfig,
        *,
        verifier: LabelVerifier,
        expected: ExpectedLabelSource,
        current_order: Callable[[], str],
    ) -> None:
        self.config = config
        self._verifier = verifier
        self._expected = expected
        self._current_order = current_order

    @property
    def name(self) -> str:
        return self.config.name

    def inspect(self, image: Frame, roi: BoundingBox) -> StageOutcome:
        return self.inspect_views([(image, roi)])

    def inspect_views(self, views: Sequence[tuple[Frame, BoundingBox]]) -> StageOutcome:
        """The label on the part's views, decisive first: re-read on the others before it fails."""
        roi = views[0][1]
        order = self._current_order()
        try:
            expected = self._expected.expected_for(order)
        except NotFoundError:
            reason = StageReason(
                code="no_expected_label", subject="label", message="no expected label for the current order"
            )
            return StageOutcome(Verdict.UNCERTAIN, reasons=(reason,))
        region = self.config.region or LabelRegion(x=roi.x, y=roi.y, width=roi.width, height=roi.height)
        try:
            check = self._verifier.check_views([frame for frame, _ in views], expected, region)
        except InputError:
            reason = StageReason(
                code="region_outside_frame",
                subject="label",
                message="the label region reaches outside the frame",
            )
            return StageOutcome(Verdict.UNCERTAIN, reasons=(reason,))
        digest = hashlib.sha256(expected.model_dump_json().encode()).hexdigest()
        inputs = (StageInput(name="expected_label", version=1, sha256=digest),)
        if check.passed:
            return StageOutcome(Verdict.PASS, inputs=inputs)
        reasons = tuple(
            StageReason(code=f.reason, subject=f.subject, message=f.message) for f in check.failures
        )
        return StageOutcome(Verdict.FAIL, reasons=reasons[:32], inputs=inputs)


def build_label_stage(
    config: LabelStageConfig,
    *,
    text: TextReader | None = None,
    expected: ExpectedLabelSource | None = None,
    current_order: Callable[[], str] | None = None,
) -> LabelStage:
    """A stage with the real readers (RapidOCR only when the stage checks printed text).

    ``expected`` and ``current_order`` are the MES/ERP hooks; by default the stage's own
    table and its configured ``order``.
    """
    codes = CodeReader(config.code_formats) if config.code_required else None
    if text is None and config.text_fields:
        text = RapidTextReader()
    verifier = LabelVerifier(config, codes=codes, text=text)
    return LabelStage(
        config,
        verifier=verifier,
        expected=expected or TableExpectedLabels(config.expected),
        current_order=current_order or (lambda: config.order),
    )
