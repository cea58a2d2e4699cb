"""Where the real recordings are: ../shared/data beside the checkout (as documented), `DECONFLICT_SHARED_DATA`,
or this machine's /work/shared/data (for a clean checkout made elsewhere, as CI's may be)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA"]


def _find() -> Path:
    candidates = [Path(os.environ["DECONFLICT_SHARED_DATA"])] if "DECONFLICT_SHARED_DATA" in os.environ else []
    candidates += [Path(__file__).resolve().parents[2] / "shared" / "data", Path("/work/shared/data")]
    return next((c for c in candidates if c.is_dir()), candidates[0])


DATA = _find()
