"""Typed audit events: every fact the plant server puts in its tamper-evident log.

Each event is a frozen pydantic model with a stable dotted ``event_name`` (the
``<domain>.<what happened>`` a SIEM filters on) and only the fields that fact needs.
Writers build one and hand it to the single choke point,
``lineguard.server.audit.record(session, event, actor=...)``; nothing else writes the
audit table. ``docs/audit-events.md`` documents every name (a test fails when one is
missing), and :data:`AUDIT_EVENTS` maps names back to classes for readers.

Fields hold no floats (they have no canonical JSON form, and the log is hashed over
canonical JSON), no secrets and no plaintext of protected data: an event names what
was touched (ids, counts, categories), never its content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from lineguard.contracts.errors import ContractError

__all__ = [
    "ACTOR_PATTERN",
    "AUDIT_EVENTS",
    "AccessDenied",
    "AccessReviewSignedOff",
    "AccessReviewStarted",
    "AccountLocked",
    "AiQuestionAnswered",
    "AiRecommendationDecided",
    "AiRecommendationMade",
    "ApiTokenIssued",
    "ApiTokenRevoked",
    "AuditEvent",
    "AuditExported",
    "AuditPruned",
    "AuditReadAccess",
    "BackupCreated",
    "BackupRestored",
    "CmmsDeliveriesReplayed",
    "CmmsDeliveryDeadLettered",
    "CmmsStatusRejected",
    "CmmsWorkOrderClosed",
    "CmmsWorkOrderSent",
    "ConfigChanged",
    "EgressDenied",
    "EnrollmentTokenIssued",
    "ErpSyncFailed",
    "ErpSynced",
    "EvidenceAccessed",
    "EvidenceViewed",
    "FieldChange",
    "GovernanceDocumentsBuilt",
    "IngestBatchAccepted",
    "IngestBatchRejected",
    "InspectionRecordsRead",
    "KekDestroyed",
    "KeysRotated",
    "LegalHoldPlaced",
    "LegalHoldReleased",
    "LoginFailed",
    "LoginSucceeded",
    "Logout",
    "MfaEnrolled",
    "MfaFailed",
    "MfaReset",
    "ModelApproved",
    "ModelDeployed",
    "ModelRegistered",
    "ModelRejected",
    "ModelRolledBack",
    "NodeCertificateRenewed",
    "NodeCertificateSuperseded",
    "NodeEnrolled",
    "NodeRevoked",
    "PasswordChanged",
    "PlantDataImported",
    "PlantDataRead",
    "RelayConnectionsRefused",
    "ReplicaRelayCertificateIssued",
    "ReplicaRevoked",
    "RetentionSweep",
    "ReviewLabelsExported",
    "ReviewStateChanged",
    "RoleGranted",
    "RoleRevoked",
    "UserCreated",
    "UserDisabled",
    "WorkerNoticePublished",
    "audit_event_class",
]

#: ``kind:name`` of whoever caused an event: a person, a node, a token, or the system.
ACTOR_PATTERN = r"^(user|node|token|system|cli|plant):[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$"

Text = Annotated[str, Field(max_length=500)]
Ident = Annotated[str, Field(min_length=1, max_length=200)]
Count = Annotated[int, Field(ge=0, le=2**53)]
SourceIp = Annotated[str | None, Field(default=None, max_length=64, description="Client address.")]
# Who signed a node certificate, and through whom (enrollment and renewal say the same).
SigningCa = Annotated[Ident | None, Field(default=None, description="The plant CA that signed it.")]
SignedBy = Annotated[
    Ident | None, Field(default=None, description="host:pid of the server process that signed it.")
]
ForwardedBy = Annotated[
    Ident | None,
    Field(
        default=None,
        description="The server replica process that forwarded the request to the issuer that "
        "signed it (a non-issuer, LINEGUARD_PKI_ISSUER=false); None when it reached the issuer.",
    ),
]


class AuditEvent(BaseModel):
    """Base of every audit event: ``event_name`` is its stable identifier."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=2000)

    event_name: ClassVar[str] = ""
    outcome: Literal["success", "failure", "denied"] = "success"


# -- accounts and sessions --------------------------------------------------------


class LoginSucceeded(AuditEvent):
    """A person or token logged in."""

    event_name: ClassVar[str] = "auth.login_succeeded"
    username: Ident
    method: Literal["password", "password+totp", "api_token"]
    source_ip: SourceIp


class LoginFailed(AuditEvent):
    """A login attempt failed (wrong password or code, unknown or disabled user, lockout, rate limit)."""

    event_name: ClassVar[str] = "auth.login_failed"
    outcome: Literal["success", "failure", "denied"] = "failure"
    username: Ident
    reason: Literal["bad_password", "bad_totp", "unknown_user", "disabled", "locked", "rate_limited"]
    source_ip: SourceIp


class Logout(AuditEvent):
    """A session ended: by the user, by expiry, or revoked."""

    event_name: ClassVar[str] = "auth.logout"
    username: Ident
    reason: Literal["user", "expired", "revoked"] = "user"


class MfaEnrolled(AuditEvent):
    """A user enrolled a TOTP authenticator."""

    event_name: ClassVar[str] = "auth.mfa_enrolled"
    username: Ident


class MfaFailed(AuditEvent):
    """A TOTP code was wrong or replayed."""

    event_name: ClassVar[str] = "auth.mfa_failed"
    outcome: Literal["success", "failure", "denied"] = "failure"
    username: Ident
    source_ip: SourceIp


class MfaReset(AuditEvent):
    """An administrator reset a user's MFA (the user must enrol again)."""

    event_name: ClassVar[str] = "auth.mfa_reset"
    username: Ident


class AccountLocked(AuditEvent):
    """An account was locked after repeated failures."""

    event_name: ClassVar[str] = "auth.account_locked"
    username: Ident
    failures: Count
    source_ip: SourceIp


class PersonConfirmed(AuditEvent):
    """A person proved themself (password and authenticator code) for one four-eyes step."""

    event_name: ClassVar[str] = "auth.person_confirmed"
    username: Ident
    purpose: Ident = Field(description="The step: model_version.register, model_version.approve, …")
    via: Ident = Field(description="Where: cli:<os user> on the server host, or the API.")


class AccountUnlocked(AuditEvent):
    """An administrator cleared an account's sign-in locks (every source address)."""

    event_name: ClassVar[str] = "auth.account_unlocked"
    username: Ident
    sources_cleared: Count


class PasswordChanged(AuditEvent):
    """A user's password was changed or reset."""

    event_name: ClassVar[str] = "auth.password_changed"
    username: Ident


class ApiTokenIssued(AuditEvent):
    """A scoped, expiring API token was issued for an integration."""

    event_name: ClassVar[str] = "auth.api_token_issued"
    token_id: Ident
    owner: Ident
    scopes: list[Ident] = Field(max_length=100)
    expires_at: datetime


class ApiTokenRevoked(AuditEvent):
    """An API token was revoked."""

    event_name: ClassVar[str] = "auth.api_token_revoked"
    token_id: Ident
    #: Why, when not revoked one by one: ``password_changed``, ``password_reset``, ``disabled``.
    reason: Literal["password_changed", "password_reset", "disabled"] | None = None


# -- users and roles --------------------------------------------------------------


class UserCreated(AuditEvent):
    """An individual account was created."""

    event_name: ClassVar[str] = "user.created"
    username: Ident
    roles: list[Ident] = Field(max_length=50)


class UserDisabled(AuditEvent):
    """An account was disabled."""

    event_name: ClassVar[str] = "user.disabled"
    username: Ident


class RoleGranted(AuditEvent):
    """A role was granted to a user, scoped to a site or line."""

    event_name: ClassVar[str] = "user.role_granted"
    username: Ident
    role: Ident
    scope: Text = "*"


class RoleRevoked(AuditEvent):
    """A role was taken from a user."""

    event_name: ClassVar[str] = "user.role_revoked"
    username: Ident
    role: Ident
    scope: Text = "*"


# -- reads of protected data and denials ------------------------------------------


class AccessDenied(AuditEvent):
    """A request was refused by policy (who tried what on which resource)."""

    event_name: ClassVar[str] = "access.denied"
    outcome: Literal["success", "failure", "denied"] = "denied"
    action: Ident
    resource: Text
    reason: Text
    source_ip: SourceIp


class InspectionRecordsRead(AuditEvent):
    """Inspection results were read (the query and how many records, never the records)."""

    event_name: ClassVar[str] = "access.inspection_read"
    query: Text = Field(description="What was asked for (route and filters), never the results.")
    records: Count


class EvidenceAccessed(AuditEvent):
    """An evidence image reference was opened."""

    event_name: ClassVar[str] = "access.evidence"
    evidence_ref: Ident
    purpose: Text = ""


class EvidenceViewed(AuditEvent):
    """A remote evidence view ended: the image was handed to the person who asked, or why not."""

    event_name: ClassVar[str] = "access.evidence_view"
    view_id: Ident
    evidence_ref: Ident
    node_id: Ident
    result: Literal["delivered", "node_refused", "node_timeout", "upload_rejected", "expired", "replica_lost"]
    reason: Text = ""


class PlantDataRead(AuditEvent):
    """Records of a plant-data domain were read."""

    event_name: ClassVar[str] = "access.plant_data_read"
    domain: Literal[
        "production", "quality", "maintenance", "finance_pricing", "vendor_terms", "customer_orders"
    ]
    query: Text
    records: Count


class PlantDataImported(AuditEvent):
    """Plant records were imported or synced into the plant-data store (how many, of which
    categories, from which source; never their content). ``kept_narrower``: records offered
    with a wider scope than stored, kept at the stored one."""

    event_name: ClassVar[str] = "plant_data.imported"
    source: Ident
    categories: tuple[Ident, ...] = Field(max_length=20)
    inserted: Count
    updated: Count
    unchanged: Count
    kept_narrower: Count = 0


class AuditReadAccess(AuditEvent):
    """The audit log was read or exported through the API."""

    event_name: ClassVar[str] = "access.audit_read"
    query: Text
    records: Count


# -- configuration ----------------------------------------------------------------


class ConfigChanged(AuditEvent):
    """A setting changed; before and after values as canonical JSON."""

    event_name: ClassVar[str] = "config.changed"
    setting: Ident = Field(description="Dotted path of what changed, e.g. 'camera.cam-1.threshold'.")
    before: Text | None = Field(description="Canonical JSON of the old value (None when created).")
    after: Text | None = Field(description="Canonical JSON of the new value (None when removed).")


# -- nodes ------------------------------------------------------------------------


class EnrollmentTokenIssued(AuditEvent):
    """A one-time enrollment token was issued for a line."""

    event_name: ClassVar[str] = "node.enrollment_token_issued"
    token_id: Ident
    line_id: Ident
    expires_at: datetime


class NodeEnrolled(AuditEvent):
    """An edge node enrolled and received its first certificate."""

    event_name: ClassVar[str] = "node.enrolled"
    node_id: Ident
    line_id: Ident
    certificate_serial: Ident
    ca_fingerprint_sha256: SigningCa = None
    issued_by: SignedBy = None
    requested_by: ForwardedBy = None


class NodeCertificateRenewed(AuditEvent):
    """A node renewed its client certificate."""

    event_name: ClassVar[str] = "node.certificate_renewed"
    node_id: Ident
    certificate_serial: Ident
    ca_fingerprint_sha256: SigningCa = None
    issued_by: SignedBy = None
    requested_by: ForwardedBy = None
    repeated: bool = Field(
        default=False,
        description="True: the node asked again for the same key (its answer was lost) and was sent "
        "the certificate already issued; nothing was signed.",
    )
    possession: Literal["request_signature", "tls_handshake"] | None = Field(
        default=None,
        description="How the node proved it holds its current key: its signature over the request "
        "(renewal_proof_message), or only its TLS handshake with the issuer (node software older "
        "than the proof, reaching an issuer directly).",
    )


class NodeCertificateSuperseded(AuditEvent):
    """A node's previous certificate stopped being accepted after a renewal."""

    event_name: ClassVar[str] = "node.certificate_superseded"
    node_id: Ident
    certificate_serial: Ident = Field(description="The previous certificate, no longer accepted.")
    superseded_by: Ident = Field(description="The renewed certificate that replaces it.")
    reason: Literal["renewed_certificate_used", "grace_ended"]


class NodeRevoked(AuditEvent):
    """A node's identity was revoked."""

    event_name: ClassVar[str] = "node.revoked"
    node_id: Ident
    reason: Text


# -- server replicas (the internal evidence-view relay) ----------------------------


class ReplicaRevoked(AuditEvent):
    """A server replica's relay identity was revoked: the others refuse its hand-offs from now on."""

    event_name: ClassVar[str] = "replica.revoked"
    replica_id: Ident
    host: Ident = Field(
        description="The relay addresses its processes last registered ('not running' if none)."
    )
    reason: Text
    views_ended: Count = Field(description="Evidence views it owned, ended as lost.")


class ReplicaRelayCertificateIssued(AuditEvent):
    """The CA issuer signed the relay certificate of a replica that holds no CA key."""

    event_name: ClassVar[str] = "replica.relay_certificate_issued"
    replica_id: Ident = Field(description="The process id the certificate names (its CN).")
    host: Ident = Field(description="The relay address in its SAN (what the other replicas dial).")
    certificate_serial: Ident
    not_after: datetime
    ca_fingerprint_sha256: Ident = Field(description="The plant CA that signed it.")
    issued_by: Ident = Field(description="host:pid of the issuer process that signed it.")


class RelayConnectionsRefused(AuditEvent):
    """Connections to this replica's internal relay were refused, counted per source and reason.

    At most one entry per (source, reason) per window, however many connections came.
    """

    event_name: ClassVar[str] = "replica.relay_refused"
    outcome: Literal["success", "failure", "denied"] = "denied"
    replica_id: Ident = Field(description="The replica whose listener refused them.")
    source_ip: Ident = Field(description="The connecting address ('other' once too many were seen).")
    reason: Literal["handshake_failed", "not_a_replica", "revoked"]
    presented: Text = Field(description="What the last one presented: a certificate subject, or why none.")
    count: Count
    first_at: datetime
    last_at: datetime


# -- models -----------------------------------------------------------------------


class _ModelEvent(AuditEvent):
    model_id: Ident
    version: Count
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ModelRegistered(_ModelEvent):
    """A signed model package was registered."""

    event_name: ClassVar[str] = "model.registered"


class ModelApproved(_ModelEvent):
    """A model version was approved (by a second person)."""

    event_name: ClassVar[str] = "model.approved"


class ModelRejected(_ModelEvent):
    """A model version was rejected."""

    event_name: ClassVar[str] = "model.rejected"
    reason: Text


class ModelDeployed(_ModelEvent):
    """A model version was deployed to a line, camera or node."""

    event_name: ClassVar[str] = "model.deployed"
    target: Ident = Field(description="Line, camera or node the model went to.")


class ModelRolledBack(_ModelEvent):
    """A deployment was rolled back."""

    event_name: ClassVar[str] = "model.rolled_back"
    target: Ident
    reason: Text


class NodeSoftwarePublished(AuditEvent):
    """A node-software bundle (LineGuard wheel + pinned dependencies) was published for a site,
    signed by the TUF ``software`` role."""

    event_name: ClassVar[str] = "node_software.published"
    site_id: Ident
    release: Count
    version: Ident
    bundle_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    bundle_bytes: Count


class NodeSoftwareStep(AuditEvent):
    """A node reported a step of a node-software update: verified, installed, rejected (with the
    failed check) or rolled back. The actor is the node (its client certificate)."""

    event_name: ClassVar[str] = "node_software.step"
    step: Literal["verified", "installed", "rejected", "rolled_back"]
    release: Count | None = None
    version: Ident | None = None
    check: Annotated[str, Field(max_length=32)] = ""
    reason: Text = ""
    running_version: Ident | None = None


# -- AI assistance ----------------------------------------------------------------


class AiRecommendationMade(AuditEvent):
    """The system proposed something a person may act on: a verdict, an alert, a work order
    (what about, not its text). ``recommendation_id`` is the review item that tracks it."""

    event_name: ClassVar[str] = "ai.recommendation"
    recommendation_id: Ident
    kind: Ident
    subject: Text


class AiQuestionAnswered(AuditEvent):
    """A person asked the plant assistant a question: in which workflow, within which
    effective scope, which records the answer cites, which answerer (and version) wrote
    it, and the SHA-256 of the answer text. The question and the answer themselves are
    sealed in ``assistant_questions`` under ``question_id``, never in the log. When a
    language model was asked to rephrase the answer: which model and version, and
    whether the built-in answer was returned instead (``fallback``) — ``answerer`` is then
    ``language_model`` when the person got the model's words, ``builtin`` otherwise."""

    event_name: ClassVar[str] = "ai.question"
    question_id: Ident
    workflow: Ident
    scope: Text
    cited: tuple[Ident, ...] = Field(default=(), max_length=200)
    answerer: Ident
    answerer_version: Ident
    answer_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    refused: bool = False
    model: Ident | None = Field(
        default=None, description="The language model asked to rephrase the answer (none when off)."
    )
    model_version: Ident | None = Field(
        default=None, description="Its version as run: file digest and runtime, or the endpoint's own."
    )
    fallback: Literal["unavailable", "timeout", "empty", "ungrounded"] | None = Field(
        default=None,
        description="Why the built-in answer was returned instead of the model's (none: it was not).",
    )


class FieldChange(BaseModel):
    """One field a person changed in an AI proposal: its value before and after, as JSON text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: Ident
    before: Text
    after: Text


class AiRecommendationDecided(AuditEvent):
    """A person decided on an AI proposal: approved (confirmed), rejected (overruled as a
    false call), edited (changed before accepting, with the before/after of each field) or
    escalated (handed to a named role)."""

    event_name: ClassVar[str] = "ai.decision"
    recommendation_id: Ident
    decision: Literal["approved", "rejected", "edited", "escalated"]
    reason: Text = ""
    kind: Ident | None = Field(default=None, description="Subject kind of the review item (alert…).")
    subject: Text = ""
    changes: tuple[FieldChange, ...] = Field(default=(), max_length=50)


class ReviewLabelsExported(AuditEvent):
    """A person exported reviewed verdicts (AI verdict beside the human one) as labelled data
    for the next training run: which kind, how many, over which period (no images: the
    evidence stays on the nodes)."""

    event_name: ClassVar[str] = "review.labels_exported"
    kind: Ident
    records: Count
    since: datetime | None = None
    until: datetime | None = None


class ReviewStateChanged(AuditEvent):
    """A review item moved through its lifecycle: acknowledged, assigned, resolved, or
    escalated (by a person, or by the system when it stayed unacknowledged too long)."""

    event_name: ClassVar[str] = "review.state_changed"
    recommendation_id: Ident
    kind: Ident
    subject: Text
    step: Literal["acknowledged", "assigned", "resolved", "escalated"]
    from_state: Ident
    to_state: Ident
    assignee: Ident | None = None
    role: Ident | None = None
    reason: Text = ""


# -- data protection --------------------------------------------------------------


class RetentionSweep(AuditEvent):
    """A retention sweep ran: records deleted and held per category, data keys shredded."""

    event_name: ClassVar[str] = "retention.sweep"
    sweep_id: Ident
    deleted: dict[Ident, Count] = Field(description="Records deleted per category.")
    held: dict[Ident, Count] = Field(description="Records kept per category because of a legal hold.")
    keys_shredded: Count


class LegalHoldPlaced(AuditEvent):
    """A legal hold exempted a named record from deletion."""

    event_name: ClassVar[str] = "retention.hold_placed"
    hold_id: Ident
    category: Ident
    record_id: Ident
    reason: Text


class LegalHoldReleased(AuditEvent):
    """A legal hold was released."""

    event_name: ClassVar[str] = "retention.hold_released"
    hold_id: Ident
    reason: Text


class KeyringCreated(AuditEvent):
    """``lineguard keys init`` created the server keyring with its first KEK."""

    event_name: ClassVar[str] = "keys.keyring_created"
    kek_id: Ident


class CaCreated(AuditEvent):
    """``lineguard ca init`` created the plant CA and the server's first TLS certificate."""

    event_name: ClassVar[str] = "pki.ca_created"
    fingerprint_sha256: Ident
    server_names: list[Ident]


class CaRotated(AuditEvent):
    """``lineguard ca rotate`` made a new plant CA the issuer; the previous one stays trusted (overlap)."""

    event_name: ClassVar[str] = "pki.ca_rotated"
    fingerprint_sha256: Ident = Field(description="The new CA, which issues from now on.")
    previous_fingerprint_sha256: Ident = Field(description="The CA it replaces, trusted until retired.")


class CaRetired(AuditEvent):
    """``lineguard ca retire`` ended a rotation: the previous plant CA is trusted no more."""

    event_name: ClassVar[str] = "pki.ca_retired"
    fingerprint_sha256: Ident = Field(description="The retired CA.")
    current_fingerprint_sha256: Ident = Field(description="The CA that issues and serves now.")
    stranded_nodes: list[Ident] = Field(
        description="Active nodes still on the retired CA (retired with --force): they must enroll again."
    )
    certificates_revoked: Count
    stranded_tokens: list[Ident] = Field(
        default_factory=list,
        description="Nodes whose unused enrollment token pinned the retired CA (retired with --force): "
        "they need a new token.",
    )
    overlap_s: Count = Field(default=0, description="Whole seconds between the rotation and this retirement.")


class ServerCertificateRenewed(AuditEvent):
    """A running server process re-issued the server's TLS certificate (one process for all replicas)."""

    event_name: ClassVar[str] = "pki.server_certificate_renewed"
    reason: Literal["missing", "unreadable", "key-mismatch", "names", "untrusted-issuer", "expiring"] = Field(
        description="Why: less than 30 days left, issued by a CA no longer trusted (retired), "
        "other host names than pki.server_names, or the pair missing, unreadable or mismatched."
    )
    fingerprint_sha256: Ident = Field(description="The new server certificate.")
    previous_fingerprint_sha256: Ident | None = Field(
        description="The certificate it replaces (None: none was readable)."
    )
    issuer_fingerprint_sha256: Ident = Field(
        description="The CA that signed it: the previous CA while a rotation overlaps, else the current one."
    )
    not_after: datetime
    server_names: list[Ident]
    issued_by: Ident = Field(description="host:pid of the process that issued it.")


class KeysRotated(AuditEvent):
    """A new key-encryption key became active; data keys re-wrapped under it."""

    event_name: ClassVar[str] = "keys.rotated"
    old_kek_id: Ident
    new_kek_id: Ident
    rewrapped: Count


class KekDestroyed(AuditEvent):
    """A retired key-encryption key was destroyed (no data key needed it)."""

    event_name: ClassVar[str] = "keys.kek_destroyed"
    kek_id: Ident


class BackupCreated(AuditEvent):
    """An encrypted backup archive was written."""

    event_name: ClassVar[str] = "backup.created"
    backup_id: Ident
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    tables: Count
    rows: Count
    files: Count


class BackupRestored(AuditEvent):
    """A backup archive was restored into an empty database."""

    event_name: ClassVar[str] = "backup.restored"
    backup_id: Ident
    rows: Count


# -- ingest -----------------------------------------------------------------------


class IngestBatchAccepted(AuditEvent):
    """An edge node's batch was stored (one entry per batch, not per event)."""

    event_name: ClassVar[str] = "ingest.batch_accepted"
    node_id: Ident
    batch_id: Ident
    events: Count
    alerts: Count = 0
    duplicates: Count = 0


class IngestBatchRejected(AuditEvent):
    """An edge node's batch was refused."""

    event_name: ClassVar[str] = "ingest.batch_rejected"
    outcome: Literal["success", "failure", "denied"] = "failure"
    node_id: Ident
    reason: Text


# -- outbound connections ---------------------------------------------------------


class EgressDenied(AuditEvent):
    """The server refused to connect somewhere the egress allowlist does not allow."""

    event_name: ClassVar[str] = "egress.denied"
    outcome: Literal["success", "failure", "denied"] = "denied"
    destination: Text = Field(description="scheme://host:port as requested.")
    purpose: Text = Field(description="What the connection was for (cmms:<name>, mqtt, siem).")
    reason: Text


# -- the ERP connector -------------------------------------------------------------


class ErpSynced(AuditEvent):
    """``lineguard data sync erp`` read the ERP and stored what it read (one transaction)."""

    event_name: ClassVar[str] = "erp.synced"
    erp: Ident = Field(description="The ERP's name in server.yaml (erp.name).")
    records_read: Count
    inserted: Count
    updated: Count
    unchanged: Count
    skipped: Count = Field(description="Records left out because a field their category needs was missing.")
    derived: Count = Field(description="Derived records (labelled with the strictest of their sources).")


class ErpSyncFailed(AuditEvent):
    """An ERP sync stopped before storing anything (ERP down, credentials refused, egress denied)."""

    event_name: ClassVar[str] = "erp.sync_failed"
    outcome: Literal["success", "failure", "denied"] = "failure"
    erp: Ident
    error: Text


# -- CMMS work orders -------------------------------------------------------------


class CmmsWorkOrderSent(AuditEvent):
    """A work order reached a CMMS (it answered with success)."""

    event_name: ClassVar[str] = "cmms.work_order_sent"
    destination: Ident
    work_order_id: Ident
    external_id: Ident | None = None
    attempts: Count


class CmmsDeliveryDeadLettered(AuditEvent):
    """A work order went to the dead-letter queue: out of attempts, or a failure retrying cannot fix."""

    event_name: ClassVar[str] = "cmms.delivery_dead_lettered"
    outcome: Literal["success", "failure", "denied"] = "failure"
    destination: Ident
    work_order_id: Ident
    attempts: Count
    error: Text


class CmmsDeliveriesReplayed(AuditEvent):
    """Someone put dead-lettered work orders back in the queue."""

    event_name: ClassVar[str] = "cmms.deliveries_replayed"
    destination: Ident | None = None
    work_orders: Count


class CmmsWorkOrderClosed(AuditEvent):
    """A CMMS reported a work order closed (or cancelled); its recommendation and alerts were closed."""

    event_name: ClassVar[str] = "cmms.work_order_closed"
    destination: Ident
    work_order_id: Ident
    external_id: Ident | None = None
    status: Literal["closed", "cancelled"]
    alerts_closed: Count = 0


class CmmsStatusRejected(AuditEvent):
    """A status message claiming to come from a CMMS was refused (signature, timestamp, body)."""

    event_name: ClassVar[str] = "cmms.status_rejected"
    outcome: Literal["success", "failure", "denied"] = "denied"
    destination: Ident
    reason: Text
    source_ip: SourceIp


# -- the audit log itself ---------------------------------------------------------


class AuditExported(AuditEvent):
    """The audit log was exported with its checkpoints."""

    event_name: ClassVar[str] = "audit.exported"
    through_seq: Count
    checkpoint_seq: Count


class AuditSuppressed(AuditEvent):
    """Unauthenticated events of one kind left out of the log in one window, counted here."""

    event_name: ClassVar[str] = "audit.suppressed"
    event: Ident = Field(description="Name of the event kind that was throttled.")
    suppressed: Count
    sources: Count = Field(description="Distinct source addresses among them (capped).")
    window_start: datetime
    window_end: datetime


class AuditPruned(AuditEvent):
    """Audit entries older than the audit retention were removed up to a signed checkpoint."""

    event_name: ClassVar[str] = "audit.pruned"
    through_seq: Count
    retention_days: Count


# -- governance -------------------------------------------------------------------

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class GovernanceDocumentsBuilt(AuditEvent):
    """Governance documents were built from the live configuration; the manifest's digest."""

    event_name: ClassVar[str] = "governance.documents_built"
    build_id: Ident
    manifest_sha256: Sha256
    facts_sha256: Sha256
    documents: Count
    software_version: Ident


class WorkerNoticePublished(AuditEvent):
    """The worker notice of a build was published (date and place as recorded)."""

    event_name: ClassVar[str] = "governance.notice_published"
    build_id: Ident
    published_on: Ident = Field(description="ISO date the notice was put up.")
    where: Text


class AccessReviewStarted(AuditEvent):
    """An access review was started: every account listed with its findings."""

    event_name: ClassVar[str] = "governance.access_review_started"
    review_id: Ident
    accounts: Count
    findings: Count


class AccessReviewSignedOff(AuditEvent):
    """The reviewer signed an access review off (revocations it led to are user.role_revoked events)."""

    event_name: ClassVar[str] = "governance.access_review_signed_off"
    review_id: Ident
    revoked_grants: Count
    overdue: bool


# -- the enterprise roll-up: the plant's side -----------------------------------------


class EnterpriseRollupSent(AuditEvent):
    """The plant sent line-day aggregates (counts only) to its enterprise roll-up, which took them."""

    event_name: ClassVar[str] = "enterprise.rollup_sent"
    destination: Text = Field(description="scheme://host:port of the roll-up.")
    line_days: Count = Field(description="Line-day snapshots in the request.")
    stored: Count
    duplicates: Count
    stale: Count


class EnterpriseRollupFailed(AuditEvent):
    """A send to the roll-up was refused (egress, the roll-up's 4xx) or failed; it is retried later."""

    event_name: ClassVar[str] = "enterprise.rollup_failed"
    outcome: Literal["success", "failure", "denied"] = "failure"
    destination: Text
    line_days: Count
    reason: Text
    retry_in_s: Count


# -- the enterprise roll-up service (its own log) ------------------------------------


class EnterprisePlantEnrolled(AuditEvent):
    """The roll-up issued a plant its client certificate and will accept its aggregates."""

    event_name: ClassVar[str] = "enterprise.plant_enrolled"
    plant_id: Ident
    fingerprint: Text = Field(description="sha256 of the issued certificate.")


class EnterprisePlantRevoked(AuditEvent):
    """A plant's certificate is no longer accepted by the roll-up."""

    event_name: ClassVar[str] = "enterprise.plant_revoked"
    plant_id: Ident


class EnterpriseTokenCreated(AuditEvent):
    """An API token of one enterprise role was created for a named holder."""

    event_name: ClassVar[str] = "enterprise.token_created"
    token_id: Ident
    holder: Ident
    role: Ident
    expires_at: datetime


class EnterpriseTokenRevoked(AuditEvent):
    """An enterprise API token is no longer accepted."""

    event_name: ClassVar[str] = "enterprise.token_revoked"
    token_id: Ident


class EnterpriseAccessDenied(AuditEvent):
    """A person's valid token lacked the permission a roll-up route requires (403)."""

    event_name: ClassVar[str] = "enterprise.access_denied"
    outcome: Literal["success", "failure", "denied"] = "denied"
    permission: Ident
    role: Ident


class EnterpriseTokenRefused(AuditEvent):
    """A known token was refused: past its expiry, or from an address over its failure limit (401/429)."""

    event_name: ClassVar[str] = "enterprise.token_refused"
    outcome: Literal["success", "failure", "denied"] = "denied"
    reason: Literal["expired", "rate_limited"]
    source: Ident = Field(description="The client address the token came from.")


class EnterpriseAuthBlocked(AuditEvent):
    """A client address reached its limit of failed token checks: all its tokens are refused a while."""

    event_name: ClassVar[str] = "enterprise.auth_blocked"
    outcome: Literal["success", "failure", "denied"] = "denied"
    source: Ident = Field(description="The client address.")
    failures: int = Field(ge=1)
    window_s: int = Field(ge=1)


class EnterpriseAggregatesReceived(AuditEvent):
    """A plant's aggregates were validated and stored (or found already stored)."""

    event_name: ClassVar[str] = "enterprise.aggregates_received"
    plant_id: Ident
    line_days: Count
    stored: Count
    duplicates: Count
    stale: Count


class EnterpriseAggregatesRefused(AuditEvent):
    """A request to store aggregates was refused; nothing of it was stored."""

    event_name: ClassVar[str] = "enterprise.aggregates_refused"
    outcome: Literal["success", "failure", "denied"] = "denied"
    plant_id: Ident = Field(description="The certificate's plant, or 'unknown'.")
    reason: Text


def _concrete(cls: type[AuditEvent]) -> list[type[AuditEvent]]:
    found = [cls] if cls.event_name else []
    for sub in cls.__subclasses__():
        found += _concrete(sub)
    return found


#: event name → class, for every concrete event.
AUDIT_EVENTS: dict[str, type[AuditEvent]] = {c.event_name: c for c in _concrete(AuditEvent)}


def audit_event_class(name: str) -> type[AuditEvent]:
    """The class of a named event; :class:`ContractError` naming the unknown event."""
    try:
        return AUDIT_EVENTS[name]
    except KeyError:
        msg = f"unknown audit event {name!r}: expected one of the names in docs/audit-events.md"
        raise ContractError(msg) from None
