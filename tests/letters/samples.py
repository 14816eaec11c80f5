"""Render the letter table of ``test_letter_requests`` to PDFs and PNGs, to read them as the company would.

``python -m tests.letters.samples [directory]`` (``make letter-samples``) writes one PDF per row and a PNG of each
page (poppler's ``pdftoppm``, 70 dpi) to ``var/letter-samples/`` by default, dated on the day it runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from casework.letters.render import renderer
from tests.letters.test_letter_requests import ROWS, snapshot_of


def main(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    pdftoppm = shutil.which("pdftoppm")
    for row in ROWS:
        letter = renderer().render(row.kind, snapshot_of(row))
        pdf = directory / f"{row.id}.pdf"
        pdf.write_bytes(letter.pdf)
        if pdftoppm:
            subprocess.run([pdftoppm, "-r", "70", "-png", str(pdf), str(directory / row.id)], check=True)
        print(f"{pdf}  {letter.pages} page(s)")
    if not pdftoppm:
        print("pdftoppm not found (apt-get install -y poppler-utils): PDFs only", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("var/letter-samples"))
