"""Installs are reproducible: the lock files pin every dependency, by hash, within pyproject's
lower bounds, and this environment runs exactly the locked versions."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def _pins(lock: str) -> dict[str, list[tuple[str, bool]]]:
    """Per package: (version, whether it applies here) of every `name==version` line, hashed."""
    pins: dict[str, list[tuple[str, bool]]] = {}
    lines = (ROOT / lock).read_text().splitlines()
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if not match:
            continue
        name, version, marker = match.groups()
        assert "--hash=sha256:" in lines[number + 1], f"{lock}: {name}=={version} has no hash"
        here = Marker(marker).evaluate() if marker else True
        pins.setdefault(canonicalize_name(name), []).append((version, here))
    return pins


def _declared(*, dev: bool) -> list[Requirement]:
    declared = [Requirement(r) for r in PYPROJECT["dependencies"]]
    if dev:
        declared += [Requirement(r) for r in PYPROJECT["optional-dependencies"]["dev"]]
    return declared


@pytest.mark.parametrize(
    ("lock", "dev"), [("requirements.txt", False), ("requirements-dev.txt", True)]
)
def test_every_declared_dependency_is_locked_within_its_lower_bound(lock, dev):
    pins = _pins(lock)
    for requirement in _declared(dev=dev):
        versions = pins.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement.name} is in pyproject.toml but not in {lock}; run make lock"
        for version, _ in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock} pins {requirement.name}=={version}, outside pyproject's {requirement}"
            )


def test_this_environment_runs_exactly_the_locked_versions():
    pins = _pins("requirements-dev.txt")
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    for name, versions in pins.items():
        wanted = [version for version, here in versions if here]
        if not wanted:
            continue  # for another Python or platform
        assert installed.get(name) == wanted[0], (
            f"{name} {installed.get(name)} is installed but the lock says {wanted[0]}; "
            "reinstall with make (it installs from requirements-dev.txt)"
        )
