# Type stub for the cffi-generated extension (built from _build.py).
from typing import Any

ffi: Any
lib: Any
