"""Type names shared by the demo generators: numpy column types and the progress callback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# on_progress(stage, done, total): called as each stage of a seeding advances.
Progress = Callable[[str, int, int], None]
