"""An installed gridgov serves its pages: the wheel carries the templates and static assets."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_wheel_ships_the_page_templates_and_static_files(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    source = tmp_path / "src"
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*pip_wheel, "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("gridgov-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    pages = ROOT / "api" / "pages"
    assets = [
        p.relative_to(ROOT).as_posix()
        for folder in ("templates", "static")
        for p in (pages / folder).iterdir()
        if p.is_file()
    ]
    assert "api/pages/templates/base.html" in assets and "api/pages/static/app.css" in assets
    assert sorted(set(assets) - shipped) == []
    assert "api/cli/__main__.py" in shipped  # `python -m api.cli` works from the wheel too
