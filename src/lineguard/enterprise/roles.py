"""The roll-up's own roles: nobody can do everything, and no plant role reaches it.

=================  ===================================================================
role               may
=================  ===================================================================
``quality_viewer``  read line-day aggregates of every plant, and the list of plants
``plant_admin``     list plants and revoke one (enrolling needs the CA passphrase: CLI)
``auditor``         read the roll-up's audit log and the list of plants
=================  ===================================================================

The admin who decides which plants may report cannot read what they report, and
neither can the auditor; the viewer can change nothing. Plants are not roles: a plant
authenticates with its client certificate and may only submit its own aggregates.
People authenticate with a bearer token (``lineguard enterprise token create``), kept
as a sha256 digest (a 256-bit random token needs no slow hash).
"""

from __future__ import annotations

import enum

__all__ = ["GRANTS", "Permission", "Role"]


class Permission(enum.StrEnum):
    AGGREGATES_READ = "aggregates.read"
    PLANTS_READ = "plants.read"
    PLANTS_MANAGE = "plants.manage"
    AUDIT_READ = "audit.read"


class Role(enum.StrEnum):
    QUALITY_VIEWER = "quality_viewer"
    PLANT_ADMIN = "plant_admin"
    AUDITOR = "auditor"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.QUALITY_VIEWER: frozenset({Permission.AGGREGATES_READ, Permission.PLANTS_READ}),
    Role.PLANT_ADMIN: frozenset({Permission.PLANTS_READ, Permission.PLANTS_MANAGE}),
    Role.AUDITOR: frozenset({Permission.AUDIT_READ, Permission.PLANTS_READ}),
}
