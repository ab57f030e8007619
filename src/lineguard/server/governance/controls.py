"""The DPIA's risks and controls, and the vendor-assessment answers, each tied to its proof.

Every control names the test that proves it (a pytest node id under ``tests/``); every
vendor answer names the configuration value (a dotted path into the facts) or the test
it rests on. ``tests/unit/server/governance/test_controls.py`` fails when a named test
no longer exists, so the documents cannot cite a proof that was deleted or renamed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RISKS", "VENDOR_ANSWERS", "Control", "Risk", "VendorAnswer"]


@dataclass(frozen=True, slots=True)
class Control:
    text: str
    #: ``path/to/test_file.py::test_name`` (relative to the repository root).
    test: str


@dataclass(frozen=True, slots=True)
class Risk:
    risk: str
    likelihood: str
    severity: str
    controls: tuple[Control, ...]


_EDGE = "tests/unit/edge"
_AUTH = "tests/unit/server/auth"

RISKS: tuple[Risk, ...] = (
    Risk(
        "Workers are recorded and identifiable in images",
        "likely without controls",
        "high",
        (
            Control(
                "Privacy zones are blacked out at capture, before any other stage sees the frame",
                f"{_EDGE}/test_privacy_and_preprocess.py::test_capture_worker_blacks_out_zones_before_queueing",
            ),
            Control(
                "People are blurred or blacked out in every region the detector finds",
                f"{_EDGE}/redact/test_contract.py::test_black_leaves_only_zero_pixels_in_every_region",
            ),
            Control(
                "If redaction fails, the frame is blacked out instead of kept",
                f"{_EDGE}/redact/test_failsafe.py::test_black_frame_is_the_safe_fallback",
            ),
        ),
    ),
    Risk(
        "Evidence images are read by people who should not see them",
        "possible",
        "high",
        (
            Control(
                "Evidence is encrypted and signed on the node; a flipped byte is detected",
                f"{_EDGE}/test_evidence.py::test_flipped_byte_in_the_file_is_detected",
            ),
            Control(
                "Every route declares its permission and every role gets exactly what the policy allows",
                "tests/integration/test_permissions_routes.py::test_every_route_answers_every_role_as_the_matrix_says",
            ),
            Control(
                "A partner reads only the lines named in the grant",
                f"{_AUTH}/test_scoping.py::test_partner_reads_only_named_lines",
            ),
        ),
    ),
    Risk(
        "Data is kept longer than its purpose needs",
        "likely without controls",
        "medium",
        (
            Control(
                "The sweeper deletes each category after its retention and crypto-shreds its keys",
                "tests/unit/server/retention/test_sweep.py::test_sweep_deletes_shreds_and_clears_per_category",
            ),
            Control(
                "Evidence on the node is crypto-shredded (key first, then file)",
                f"{_EDGE}/test_evidence.py::test_retention_crypto_shreds_key_then_file",
            ),
        ),
    ),
    Risk(
        "Misuse by an administrator goes unnoticed",
        "possible",
        "high",
        (
            Control(
                "The audit log is hash-chained with signed checkpoints; an edited entry is located",
                "tests/unit/server/audit/test_tamper.py::test_edited_entry_is_located",
            ),
            Control(
                "Nobody grants a role to themselves",
                f"{_AUTH}/test_administration.py::test_admin_cannot_grant_a_role_to_themselves",
            ),
            Control(
                "Toxic role combinations are refused at grant time",
                f"{_AUTH}/test_administration.py::test_second_admin_may_grant_but_not_a_toxic_combination",
            ),
        ),
    ),
    Risk(
        "Accounts are taken over",
        "possible",
        "high",
        (
            Control(
                "A second factor is required and a replayed code is refused",
                f"{_AUTH}/test_login_flow.py::test_mfa_sign_in_rotates_the_session_and_refuses_a_replayed_code",
            ),
            Control(
                "Repeated failures lock the account, even for the right password",
                f"{_AUTH}/test_login_flow.py::test_brute_force_locks_the_account_even_for_the_right_password",
            ),
        ),
    ),
    Risk(
        "A tampered or unapproved model makes wrong decisions about parts",
        "unlikely",
        "medium",
        (
            Control(
                "Nodes refuse an unsigned model package",
                f"{_EDGE}/update/test_attacks.py::test_unsigned_package_is_refused",
            ),
            Control(
                "Nodes refuse a replayed older release",
                f"{_EDGE}/update/test_attacks.py::test_replayed_older_release_is_refused",
            ),
            Control(
                "The registrar cannot approve their own model (four eyes)",
                "tests/unit/server/registry/test_workflow.py::test_the_registrar_cannot_approve_their_own_model",
            ),
        ),
    ),
    Risk(
        "Data leaves the plant",
        "unlikely",
        "high",
        (
            Control(
                "Every outbound connection must match the egress allowlist or is refused",
                "tests/unit/server/egress/test_gate.py::test_exact_scheme_host_and_port_or_refused_and_reported",
            ),
            Control(
                "An edge node's enrollment key never leaves the node",
                "tests/unit/server/nodes/test_enrollment.py::test_enroll_issues_a_certificate_for_a_key_that_never_left_the_node",
            ),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class VendorAnswer:
    question: str
    #: The answer; ``{value}`` is replaced by the configuration value named in ``config``.
    answer: str
    #: Dotted path into the facts (e.g. ``retention.evidence_refs_days``), or None.
    config: str | None = None
    test: str | None = None


VENDOR_ANSWERS: tuple[VendorAnswer, ...] = (
    VendorAnswer(
        "Where is data stored?",
        "On the plant's own hardware only: inspection results in the plant server's database "
        "({value}), evidence images encrypted on the edge nodes. Nothing is stored by the vendor.",
        config="security.database",
    ),
    VendorAnswer(
        "Where is data processed?",
        "On the edge nodes (inference next to the camera) and on the plant server; the server "
        "binds to {value}.",
        config="security.bind_host",
    ),
    VendorAnswer(
        "How is data protected in transit?",
        "TLS only, at least TLS {value}; nodes authenticate with client certificates of the plant CA.",
        config="security.min_tls_version",
        test="tests/integration/test_permissions_routes.py::test_public_and_node_routes_never_serve_a_browser_session_more_than_anyone",
    ),
    VendorAnswer(
        "How is data protected at rest?",
        "Envelope encryption: a data key per record, wrapped by key-encryption keys in the {value} "
        "keyring; evidence is encrypted and signed on the node.",
        config="security.keyring_backend",
        test=f"{_EDGE}/test_evidence.py::test_evidence_round_trips_encrypted_and_signed",
    ),
    VendorAnswer(
        "How long is data retained?",
        "Per category, configured by the plant; inspection results {value} days (see the data "
        "inventory for every category). Expired data is deleted and its keys crypto-shredded.",
        config="retention.inspection_events_days",
        test="tests/unit/server/retention/test_sweep.py::test_sweep_deletes_shreds_and_clears_per_category",
    ),
    VendorAnswer(
        "Does the vendor train shared models on our data?",
        "No. Models are trained on site, on the plant's own images of parts; no data leaves the "
        "plant and no shared or cross-customer model exists. Outbound destinations allowed: {value}.",
        config="egress",
        test="tests/unit/server/egress/test_gate.py::test_exact_scheme_host_and_port_or_refused_and_reported",
    ),
    VendorAnswer(
        "How is access controlled?",
        "Individual accounts, roles per data category in a Cedar policy (deny by default), MFA for "
        "privileged roles, sessions ending after {value} idle minutes.",
        config="security.session_idle_minutes",
        test="tests/integration/test_permissions_routes.py::test_every_route_answers_every_role_as_the_matrix_says",
    ),
    VendorAnswer(
        "What audit logs exist?",
        "A tamper-evident, hash-chained audit log with signed checkpoints, kept {value} days, "
        "verifiable offline with the published public key.",
        config="retention.audit_log_days",
        test="tests/unit/server/audit/test_tamper.py::test_edited_entry_is_located",
    ),
    VendorAnswer(
        "How are updates protected?",
        "Model packages are signed and delivered through TUF metadata; a new root needs {value} "
        "signatures; nodes refuse unsigned, tampered or older packages.",
        config="security.tuf_root_threshold",
        test=f"{_EDGE}/update/test_attacks.py::test_replayed_older_release_is_refused",
    ),
    VendorAnswer(
        "Which compliance practices apply?",
        "GDPR records of processing, worker notices, a DPIA and EU AI Act technical documentation "
        "are generated from the live configuration (this pack, LineGuard {value}); access reviews "
        "and a deployment self-check (lineguard doctor) are built in.",
        config="software_version",
    ),
)
