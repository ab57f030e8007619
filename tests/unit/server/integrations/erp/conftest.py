"""A real Tryton ERP for the connector's tests.

``tryton_built`` creates, activates and seeds the plant database once per test session
(the slow part, see tests/support/tryton.py); ``tryton`` gives each test its own copy
of it served by its own ``trytond`` process over HTTPS (a test CA, the certificate
names ``erp.plant.test`` and 127.0.0.1), stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.test_pki import TestCa
from tests.support.tryton import BuiltPlant, TrytonServer, build_plant

ERP_HOST = "erp.plant.test"


@pytest.fixture(scope="session")
def tryton_built(tmp_path_factory: pytest.TempPathFactory) -> BuiltPlant:
    return build_plant(tmp_path_factory.mktemp("tryton-build"))


@pytest.fixture
def erp_ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "erp-pki", "erp")


@pytest.fixture
def tryton(tryton_built: BuiltPlant, erp_ca: TestCa, tmp_path: Path) -> Iterator[TrytonServer]:
    leaf = erp_ca.issue([ERP_HOST, "127.0.0.1"], stem="trytond")
    server = TrytonServer(tryton_built, tmp_path / "tryton", tls=leaf, ca_file=erp_ca.cert_path)
    server.start()
    yield server
    server.stop()
