"""Check the system libraries and fonts WeasyPrint needs, before anything else starts.

Standard library only, so it runs before the virtual environment exists. Prints the exact apt
command for whatever is missing and exits non-zero.
"""

from __future__ import annotations

import ctypes.util
import shutil
import subprocess
import sys

LIBRARIES = {
    "pango-1.0": "libpango-1.0-0",
    "pangoft2-1.0": "libpangoft2-1.0-0",
    "harfbuzz-subset": "libharfbuzz-subset0",
}
FONTS = {"Noto Serif": "fonts-noto-core", "Noto Sans CJK SC": "fonts-noto-cjk"}


def missing_packages() -> list[str]:
    missing = [package for lib, package in LIBRARIES.items() if ctypes.util.find_library(lib) is None]
    families = ""
    if shutil.which("fc-list"):
        families = subprocess.run(
            ["fc-list", ":", "family"], capture_output=True, text=True, check=False  # noqa: S607
        ).stdout
    else:
        missing.append("fontconfig")
    missing += [package for family, package in FONTS.items() if family not in families]
    return missing


def main() -> int:
    missing = missing_packages()
    if not missing:
        return 0
    print("casework needs system packages that are missing. Install them with:", file=sys.stderr)
    print(f"  sudo apt-get install -y {' '.join(missing)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
