"""The observation log: one store interface (`Store`), one hash chain, two backends (SQLite and PostgreSQL).

- `base`: the interface `check`, `report`, `whatif`, `verify`, `exchange` and the command line use, and opening a
  store by location (`Store.open`);
- `chain`: IDs, `recorded_at`, `recorded_by`, hashes and derived columns, record by record, for every backend;
- `sql`: the tables and queries both SQL backends share (and the evidence summary);
- `sqlite`: the embedded default, one file;
- `postgres`: a team's store on a PostgreSQL server (optional: `pip install '.[postgres]'`).
"""

from .base import DEFAULT_STORE, SAMPLE, SCHEMA_VERSION, Head, Store, is_server_location
from .sqlite import BUSY_TIMEOUT_SECONDS

__all__ = ["BUSY_TIMEOUT_SECONDS", "DEFAULT_STORE", "SAMPLE", "SCHEMA_VERSION", "Head", "Store", "is_server_location"]
