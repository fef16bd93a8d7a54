"""Check, from uv.lock alone, that every pin installs from a wheel on every tested Python.

    python tools/lock_wheels.py      prints one line per pin without a wheel; exit 1 if any

For each tested Python (tools/find_python.py's list) on Linux (x86_64), macOS (Apple silicon)
and Windows (64-bit), each pin of requirements.txt and requirements-test.txt whose marker
holds there must have a wheel in uv.lock's file list for that package and version whose tags
that interpreter accepts. Without one, pip would build the package from source on a learner's
laptop (numpy on a Python newer than its wheels: minutes, and a compiler the laptop may lack).
`make lock` runs this after every resolution.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import canonicalize_name, parse_wheel_filename

import find_python

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ("requirements.txt", "requirements-test.txt")

# What pip accepts on each platform: manylinux up to a recent glibc, macOS 11 and newer on
# arm64 (universal2 included), 64-bit Windows.
PLATFORMS = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
              "tags": [f"manylinux_2_{glibc}_x86_64" for glibc in range(39, 4, -1)]
              + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]},
    "macOS": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix",
              "tags": list(mac_platforms((15, 0), "arm64"))},
    "Windows": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt",
                "tags": ["win_amd64"]},
}


def accepted_tags(version: str, platform: str) -> set[Tag]:
    """The wheel tags CPython ``version`` ("3.15") accepts on ``platform``."""
    minor = tuple(int(part) for part in version.split("."))
    platforms = PLATFORMS[platform]["tags"]
    interpreter = "cp%d%d" % minor
    return set(cpython_tags(minor, [interpreter], platforms)) | set(compatible_tags(minor, interpreter, platforms))


def environment(version: str, patch: int, platform: str) -> dict[str, str]:
    """A marker environment for CPython ``version``.``patch`` on ``platform``."""
    settings = {key: value for key, value in PLATFORMS[platform].items() if key != "tags"}
    return {**settings, "python_version": version, "python_full_version": f"{version}.{patch}",
            "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def wheels_in_lock(lock: dict) -> dict[tuple[str, str], list[str]]:
    """{(name, version): [wheel file names]} of every package in a parsed uv.lock."""
    found = {}
    for package in lock["package"]:
        files = [wheel["url"].rsplit("/", 1)[-1] for wheel in package.get("wheels", [])]
        found[canonicalize_name(package["name"]), package["version"]] = files
    return found


def pins(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def missing_wheels(lock: dict, requirement_files: list[Path], versions=find_python.TESTED) -> list[str]:
    """One line for each (pin, Python, platform) that would need a source build."""
    wheels = wheels_in_lock(lock)
    problems = []
    for path in requirement_files:
        for requirement in pins(path):
            pinned = str(requirement.specifier).removeprefix("==")
            files = wheels.get((canonicalize_name(requirement.name), pinned))
            if files is None:
                problems.append(f"{path.name}: {requirement.name}=={pinned} is not in uv.lock (run make lock)")
                continue
            for version in versions:
                for platform in PLATFORMS:
                    # The first and a late patch release: some markers name one (>= 3.11.5).
                    if not any(requirement.marker is None or requirement.marker.evaluate(environment(version, patch, platform))
                               for patch in (0, 99)):
                        continue
                    accepted = accepted_tags(version, platform)
                    if not any(parse_wheel_filename(name)[3] & accepted for name in files):
                        problems.append(f"{requirement.name}=={pinned} has no wheel for Python {version} on {platform}")
    return problems


def main() -> int:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    problems = missing_wheels(lock, [ROOT / name for name in REQUIREMENTS])
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
