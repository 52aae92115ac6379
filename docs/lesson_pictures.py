"""Run the code blocks of docs/lesson.md in docs/, so that the pictures it writes land in docs/img/.

    python docs/lesson_pictures.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


def main() -> None:
    os.chdir(HERE)
    namespace: dict = {"__name__": "lesson"}
    for i, code in enumerate(FENCE.findall((HERE / "lesson.md").read_text(encoding="utf-8"))):
        exec(compile(code, f"lesson.md[block {i}]", "exec"), namespace)


if __name__ == "__main__":
    main()
