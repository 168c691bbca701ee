"""The pt-BR catalogue is complete and compiled: every message has a translation, none is a fuzzy guess
(gettext skips those, showing English on a Portuguese page), and the committed .mo holds what the .po says."""

from __future__ import annotations

import gettext
import subprocess
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"


def _compile(tmp_path: Path) -> tuple[Path, str]:
    target = tmp_path / "django.mo"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", str(target), str(CATALOGUE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return target, result.stderr


def test_the_portuguese_catalogue_has_no_untranslated_or_fuzzy_message(tmp_path):
    _target, statistics = _compile(tmp_path)
    assert "translated message" in statistics
    assert "fuzzy" not in statistics and "untranslated" not in statistics, statistics


def test_the_committed_compiled_catalogue_matches_its_source(tmp_path):
    fresh, _ = _compile(tmp_path)
    with fresh.open("rb") as new, CATALOGUE.with_suffix(".mo").open("rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(new)._catalog
