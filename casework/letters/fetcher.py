"""The only way a letter being rendered may load anything.

Letters are made from consumer-supplied facts; even though templates escape everything, a
renderer that fetched URLs could be turned against the network (``http://169.254.169.254/``) or
the disk (``file:///etc/passwd``). This fetcher allows ``data:`` URLs and ``file:`` URLs that
resolve inside the bundled assets folder, and refuses everything else without touching it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher

from casework.config import PROJECT_ROOT

ASSETS_DIR = PROJECT_ROOT / "templates" / "letters" / "assets"


class RefusedURL(ValueError):
    """A letter tried to load something outside its assets."""


class AssetsOnlyFetcher(URLFetcher):  # type: ignore[misc]
    def __init__(self, assets_dir: Path = ASSETS_DIR) -> None:
        super().__init__(allowed_protocols=("data", "file"), allow_redirects=False, timeout=2)
        self.assets_dir = assets_dir.resolve()
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file":
            path = Path(unquote(urlsplit(url).path)).resolve()
            if path.is_relative_to(self.assets_dir) and path.is_file():
                return super().fetch(path.as_uri(), headers)
        self.refused.append(url)
        raise RefusedURL(f"letters may not load {url[:200]!r}")
