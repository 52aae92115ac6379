"""Without torch, importing segscope.torch is one clear error naming the extra; segscope itself
never needs it."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
sys.modules["torch"] = None  # as if torch were not installed
import segscope
from segscope.exceptions import SegscopeError
try:
    import segscope.torch
except ImportError as exc:
    assert isinstance(exc, SegscopeError), type(exc)
    print(exc)
"""


def test_missing_torch_names_the_extra():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "segscope.torch needs PyTorch: pip install 'segscope[train]' (torch==2.13.0)"
