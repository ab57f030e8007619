"""A registered package is stored private whatever the upload's modes (review finding 8):
the server refuses to start when its data directory holds anything wider."""

from __future__ import annotations

import stat

from lineguard.server.file_modes import find_wide_modes
from tests.unit.server.registry.conftest import RegistryWorld


def test_a_kept_package_is_private(world: RegistryWorld) -> None:
    upload = world.package()
    upload.chmod(0o755)
    for file in upload.iterdir():
        file.chmod(0o644)
    stored = world.registry.keep("mv_private", upload)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in stored.iterdir())
    assert [p for p in find_wide_modes(stored.parent.parent) if p.path.is_relative_to(stored)] == []
