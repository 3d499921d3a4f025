"""MkDocs hook: add the generated reference pages to the site at build time.

Generating them on every build (``make docs``, and ``mkdocs build --strict`` in ``make test``)
means the references cannot drift from the code: nothing generated is committed.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

#: The repository root: ``bench`` is a directory there, not an installed package.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

# the providers' SDKs deprecate resources on import: not this site's concern
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from cli_reference import page as cli_page  # (needs ROOT on the path)
    from config_reference import page as config_page

GENERATED = {
    "reference/configuration.md": config_page,
    "reference/cli.md": cli_page,
}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for path, render in GENERATED.items():
        files.append(File.generated(config, path, content=render()))
    return files
