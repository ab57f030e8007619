"""Plant data: labelled, sealed records and documents the assistant answers from.

Records come in through ``lineguard data import`` (:mod:`.parsers`: CSV, JSON lines,
Markdown, text, PDF) or a connector (the ERP sync), always through
:func:`upsert_records`: each carries a **category** and a **scope** (site or lines,
:mod:`.labels`), its body sealed under the keyring, its terms in a keyed search index
(:mod:`.index`), under the ``plant_data`` retention category. A re-import never widens
a record's scope; derived values carry the strictest label of their sources
(:func:`derived_label`). Readers compile their permissions into one ``WHERE`` clause
with :func:`readable_condition` before retrieving anything; totals read the daily
rollups (:mod:`.rollups`) through the same condition. See docs/plant-data.md.
"""

from lineguard.server.plantdata.access import (
    CategoryScope,
    cedar_targets,
    labels_condition,
    readable_condition,
    record_readable,
)
from lineguard.server.plantdata.index import IndexKey, normalise, tokens
from lineguard.server.plantdata.labels import (
    PLANT_CATEGORIES,
    STRICTNESS,
    Label,
    Scope,
    derived_label,
    narrowest,
    plant_category,
    read_action,
)
from lineguard.server.plantdata.models import (
    DIMENSIONS,
    PlantIndexKeyRow,
    PlantRecordLineRow,
    PlantRecordRow,
    PlantRollupRow,
    PlantTermRow,
)
from lineguard.server.plantdata.parsers import ImportedFile, parse_file
from lineguard.server.plantdata.rollups import ROLLUP_DIMENSIONS, day_of
from lineguard.server.plantdata.schemas import FieldValue, PlantRecordIn, RecordBody, UpsertResult
from lineguard.server.plantdata.service import (
    SEALED_CATEGORY,
    import_records,
    index_key,
    lines_of,
    open_records,
    upsert_records,
)

__all__ = [
    "DIMENSIONS",
    "PLANT_CATEGORIES",
    "ROLLUP_DIMENSIONS",
    "SEALED_CATEGORY",
    "STRICTNESS",
    "CategoryScope",
    "FieldValue",
    "ImportedFile",
    "IndexKey",
    "Label",
    "PlantIndexKeyRow",
    "PlantRecordIn",
    "PlantRecordLineRow",
    "PlantRecordRow",
    "PlantRollupRow",
    "PlantTermRow",
    "RecordBody",
    "Scope",
    "UpsertResult",
    "cedar_targets",
    "day_of",
    "derived_label",
    "import_records",
    "index_key",
    "labels_condition",
    "lines_of",
    "narrowest",
    "normalise",
    "open_records",
    "parse_file",
    "plant_category",
    "read_action",
    "readable_condition",
    "record_readable",
    "tokens",
    "upsert_records",
]
