"""Both languages are complete: every source string has a Chinese translation, and the
compiled catalogue shipped with the code matches it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = [
    ROOT / "locale/zh_Hans/LC_MESSAGES/django.po",
    ROOT / "locale/zh_Hans/LC_MESSAGES/djangojs.po",
]
SOURCE_DIRS = ["monitoring", "cameras", "alerts", "billing", "templates", "static"]


def _existing():
    return [path for path in CATALOGUES if path.exists()]


@pytest.mark.parametrize("po_path", _existing(), ids=lambda p: p.name)
def test_every_string_has_a_chinese_translation(po_path):
    catalogue = polib.pofile(str(po_path))
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert not untranslated, f"untranslated in {po_path.name}: {untranslated[:20]}"
    assert not fuzzy, f"fuzzy in {po_path.name}: {fuzzy[:20]}"


@pytest.mark.parametrize("po_path", _existing(), ids=lambda p: p.name)
def test_the_compiled_catalogue_matches_its_source(po_path):
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} is missing: run `make messages`"
    compiled = {
        (entry.msgctxt, entry.msgid): entry.msgstr or entry.msgstr_plural
        for entry in polib.mofile(str(mo_path))
    }
    source = {
        (entry.msgctxt, entry.msgid): entry.msgstr or entry.msgstr_plural
        for entry in polib.pofile(str(po_path)).translated_entries()
    }
    assert compiled == source, "the .mo is stale: run `make messages`"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext")
def test_no_source_string_is_missing_from_the_catalogue(tmp_path):
    """Extract the strings from a copy of the sources and compare with the catalogue."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in [*SOURCE_DIRS, "manage.py"]:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, copy / name)
    (copy / "locale").mkdir()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    for domain in ("django", "djangojs"):
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-d", domain],
            cwd=copy,
            env=env,
            check=True,
            capture_output=True,
        )
        extracted = copy / f"locale/zh_Hans/LC_MESSAGES/{domain}.po"
        committed = ROOT / f"locale/zh_Hans/LC_MESSAGES/{domain}.po"
        wanted = {(e.msgctxt, e.msgid) for e in polib.pofile(str(extracted)) if e.msgid}
        have = (
            {(e.msgctxt, e.msgid) for e in polib.pofile(str(committed))}
            if committed.exists()
            else set()
        )
        missing = sorted(msgid for _ctx, msgid in wanted - have)
        assert not missing, f"{domain}: not in the catalogue (run `make messages`): {missing[:20]}"
