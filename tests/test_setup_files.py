"""The set-up files agree with each other: versions are pinned in one place only.

- requirements.txt is the one place with versions: every line under its comment header
  is ``name==version``, it pins everything in requirements.in, and its pins satisfy the
  package's own dependencies in pyproject.toml;
- environment.yml and binder/environment.yml ask for Python 3.11 and, with paths resolved
  from each file's own folder (as conda does), install requirements.txt and the package;
- ``make`` installs requirements.txt and the package, and refuses a Python other than 3.11;
- repo2docker (Binder), run on a clean copy of the repository, picks the conda buildpack,
  reads binder/environment.yml rather than the root one, builds Python 3.11 and installs
  the package after the repository has been copied in;
- the README's Binder badge opens the start-here notebook of the repository named in
  pyproject.toml.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT_FILES = ["environment.yml", "binder/environment.yml"]
START_NOTEBOOK = "notebooks/00_start_here.ipynb"


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_lines(path: Path) -> list[str]:
    """The lines of a requirements file that are not blank or comments."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def pins() -> dict[str, str]:
    """requirements.txt as {normalised name: version}."""
    found = {}
    for line in requirement_lines(ROOT / "requirements.txt"):
        name, _, version = line.partition("==")
        found[canonicalize_name(name)] = version
    return found


def environment(relative: str) -> dict:
    return yaml.safe_load((ROOT / relative).read_text())


def conda_packages(env: dict) -> list[str]:
    return [dep for dep in env["dependencies"] if isinstance(dep, str)]


def pip_lines(env: dict) -> list[str]:
    sections = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict) and "pip" in dep]
    assert len(sections) == 1, "the environment file needs exactly one pip: section"
    return sections[0]


def resolved_pip_targets(env_file: Path) -> dict[str, list[Path]]:
    """{"-r": [...], "-e": [...]} with each path resolved from the environment file's folder,
    as conda does when it runs pip; any other pip line is a package pinned outside
    requirements.txt and fails here."""
    targets: dict[str, list[Path]] = {"-r": [], "-e": []}
    for line in pip_lines(yaml.safe_load(env_file.read_text())):
        option, _, path = line.partition(" ")
        assert option in targets and path.strip(), (
            f"{env_file.name}: pip line {line!r} is neither '-r <requirements.txt>' nor "
            "'-e <repository root>'; pin packages in requirements.txt instead"
        )
        targets[option].append((env_file.parent / path.strip()).resolve())
    return targets


# requirements.txt, requirements.in and pyproject.toml


def test_requirements_txt_pins_every_line_exactly():
    header_size = int(re.search(r"sed -n '1,(\d+)p' requirements\.txt", (ROOT / "Makefile").read_text())[1])
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    # `make lock` keeps this many lines as the header and regenerates the rest.
    assert all(line.startswith("#") for line in lines[:header_size]), "the header must be comment lines"
    assert not any(line.startswith("#") for line in lines[header_size:]), (
        f"`make lock` keeps only the first {header_size} lines: comments below them would be lost"
    )
    names = []
    for line in requirement_lines(ROOT / "requirements.txt"):
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert (
            not requirement.extras and requirement.marker is None and requirement.url is None
            and len(specifiers) == 1 and specifiers[0].operator == "=="
            and "*" not in specifiers[0].version and line == f"{requirement.name}=={specifiers[0].version}"
        ), f"requirements.txt: {line!r} is not name==version"
        Version(specifiers[0].version)  # raises if it is not a valid version
        names.append(canonicalize_name(requirement.name))
    duplicated = sorted({name for name in names if names.count(name) > 1})
    assert not duplicated, f"pinned more than once in requirements.txt: {duplicated}"


def test_every_direct_dependency_is_pinned():
    pinned = pins()
    direct = [Requirement(line).name for line in requirement_lines(ROOT / "requirements.in")]
    assert direct, "requirements.in lists no packages"
    missing = [name for name in direct if canonicalize_name(name) not in pinned]
    assert not missing, f"in requirements.in but not pinned in requirements.txt (run make lock): {missing}"


def test_pins_satisfy_the_package_dependencies():
    pinned = pins()
    dependencies = [Requirement(text) for text in pyproject()["project"]["dependencies"]]
    assert dependencies, "pyproject.toml lists no dependencies"
    for requirement in dependencies:
        version = pinned.get(canonicalize_name(requirement.name))
        assert version is not None, f"pyproject.toml needs {requirement}, which requirements.txt does not pin"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"pyproject.toml needs {requirement} but requirements.txt pins {requirement.name}=={version}"
        )


def test_package_admits_python_3_11():
    requires_python = SpecifierSet(pyproject()["project"]["requires-python"])
    assert requires_python.contains("3.11.0"), f"requires-python {requires_python} excludes Python 3.11"


# environment.yml and binder/environment.yml


@pytest.mark.parametrize("relative", ENVIRONMENT_FILES)
def test_environment_file_pins_python_3_11_and_nothing_else_in_conda(relative):
    packages = conda_packages(environment(relative))
    python = [p for p in packages if re.match(r"python\b", p)]
    assert len(python) == 1 and re.fullmatch(r"python\s*=+\s*3\.11(\.\*)?", python[0]), (
        f"{relative}: want exactly one 'python=3.11', got {python}"
    )
    others = set(packages) - {python[0], "pip"}
    assert not others, f"{relative}: conda packages {sorted(others)} would be versioned outside requirements.txt"


@pytest.mark.parametrize("relative", ENVIRONMENT_FILES)
def test_environment_file_installs_the_pins_and_the_package(relative):
    targets = resolved_pip_targets(ROOT / relative)
    assert targets["-r"] == [ROOT / "requirements.txt"], (
        f"{relative}: '-r' must point at the repository's requirements.txt from the file's own folder"
    )
    assert targets["-e"] == [ROOT], f"{relative}: '-e' must point at the repository root from the file's own folder"
    assert (ROOT / "pyproject.toml").is_file()


def test_both_environment_files_install_the_same_things():
    root, binder = (environment(relative) for relative in ENVIRONMENT_FILES)
    assert sorted(conda_packages(root)) == sorted(conda_packages(binder))
    assert resolved_pip_targets(ROOT / ENVIRONMENT_FILES[0]) == resolved_pip_targets(ROOT / ENVIRONMENT_FILES[1])


# make

# Stands in for the interpreter make is given, and for the .venv python it creates:
# `-c CODE` runs CODE as if this were Python FAKE_VERSION; `-m venv DIR` creates
# DIR/bin/python as another copy of this script; every call is logged, nothing installed.
FAKE_PYTHON = """\
#!{python}
import json, os, shutil, sys
args = sys.argv[1:]
if args[:1] == ["-c"]:
    sys.version = os.environ["FAKE_VERSION"] + " (fake)"
    sys.version_info = tuple(int(part) for part in os.environ["FAKE_VERSION"].split("."))
    exec(args[1])
    sys.exit(0)
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:2] == ["-m", "venv"]:
    os.makedirs(os.path.join(args[2], "bin"))
    shutil.copy(__file__, os.path.join(args[2], "bin", "python"))
"""


def run_make_install(tmp_path: Path, version: str) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """`make .venv/.installed` in a copy of the set-up files, with a fake Python ``version``."""
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable))
    fake.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(
        ["make", "--no-print-directory", f"PYTHON={fake}", ".venv/.installed"],
        cwd=tmp_path, env=env | {"FAKE_VERSION": version, "FAKE_LOG": str(log)},
        capture_output=True, text=True, timeout=60,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def test_make_refuses_a_python_other_than_3_11(tmp_path):
    result, calls = run_make_install(tmp_path, "3.12.1")
    assert result.returncode != 0
    assert "Python 3.11 is required; got 3.12.1" in result.stderr
    assert calls == [] and not (tmp_path / ".venv").exists(), "nothing may be installed with the wrong Python"


def option_values(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == option]


def test_make_installs_the_pins_then_the_package(tmp_path):
    result, calls = run_make_install(tmp_path, "3.11.9")
    assert result.returncode == 0, result.stderr
    assert calls[0] == ["-m", "venv", ".venv"]
    installs = [call[3:] for call in calls if call[:3] == ["-m", "pip", "install"]]
    pins_install = [i for i, args in enumerate(installs) if option_values(args, "-r")]
    package_install = [i for i, args in enumerate(installs) if option_values(args, "-e")]
    assert [option_values(installs[i], "-r") for i in pins_install] == [["requirements.txt"]]
    assert [option_values(installs[i], "-e") for i in package_install] == [["."]]
    assert "--no-deps" in installs[package_install[0]], "with --no-deps only the pins choose versions"
    assert pins_install[0] < package_install[0], "the pins go in first"
    assert (tmp_path / ".venv" / ".installed").exists()


# repo2docker (Binder)

# Run inside the repo2docker process before it starts: any attempt to open a connection
# or look up a name fails the run, proving --no-build needs neither Docker nor internet.
NO_NETWORK = """\
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("test_setup_files: repo2docker --no-build must not use the network")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.getaddrinfo = socket.create_connection = refuse
sys.stderr.write("network blocked\\n")
"""
BINDER_USER = ["--user-id", "1000", "--user-name", "jovyan"]  # as on mybinder.org


def clean_copy(destination: Path) -> Path:
    """The files git would commit (tracked and new, not ignored), as they are on disk now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    for relative in filter(None, listed):
        source = ROOT / relative
        if source.is_file():  # tracked files deleted in the working tree are left out
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / relative)
    return destination


@pytest.fixture(scope="module")
def repo2docker_run(tmp_path_factory):
    """(Dockerfile, log, copy) from `jupyter-repo2docker --no-build` on a clean copy.

    --no-build renders the Dockerfile and prints it instead of building, so no Docker
    daemon is needed; a local folder is used in place (the Local content provider, no
    fetch), and the conda buildpack reads its base environment from lock files shipped
    inside repo2docker, so nothing is downloaded. NO_NETWORK makes sure of that.
    """
    copy = clean_copy(tmp_path_factory.mktemp("repo"))
    guard = tmp_path_factory.mktemp("guard")
    (guard / "sitecustomize.py").write_text(NO_NETWORK)
    executable = Path(sys.executable).parent / "jupyter-repo2docker"
    result = subprocess.run(
        [str(executable), "--no-build", "--no-run", *BINDER_USER, str(copy)],
        cwd=copy, env=os.environ | {"PYTHONPATH": str(guard)},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("network blocked"), "the NO_NETWORK guard did not load"
    return result.stdout, result.stderr, copy


def test_the_clean_copy_is_complete(repo2docker_run):
    _, _, copy = repo2docker_run
    for relative in ["pyproject.toml", "requirements.txt", "environment.yml", "binder/environment.yml",
                     "src/asyncio_patterns/__init__.py", START_NOTEBOOK]:
        assert (copy / relative).is_file(), f"{relative} is not tracked by git (git add it)"
    assert not (copy / ".venv").exists() and not (copy / ".git").exists()


def test_binder_builds_python_3_11_from_binder_environment_yml(repo2docker_run):
    dockerfile, log, _ = repo2docker_run
    assert "Building conda environment for python=3.11" in log
    updates = re.findall(r'env update -p \$\{NB_PYTHON_PREFIX\} --file "([^"]+)"', dockerfile)
    # Only binder/ is read when it exists: the root environment.yml is ignored.
    assert updates == ["binder/environment.yml"], f"the conda environment is installed from {updates}"


def test_binder_installs_the_package_after_copying_the_repository(repo2docker_run):
    dockerfile, _, copy = repo2docker_run
    lines = dockerfile.splitlines()
    workdir = lines.index("WORKDIR ${REPO_DIR}")
    # repo2docker's build context holds the repository under src/ (not our src/ folder).
    copied = lines.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/")
    installed = next(i for i, line in enumerate(lines) if "env update" in line and "binder/environment.yml" in line)
    # The `-e ..` line makes repo2docker install the environment after copying the whole
    # repository into REPO_DIR (the working directory); without it, the environment would
    # be installed from environment.yml alone, before the repository is there. The copy
    # belongs to the user who installs, so pip can write the package's build metadata.
    assert workdir < copied < installed, "the environment must be installed after the repository is copied in"
    assert "USER ${NB_USER}" in lines[copied:installed], "the environment must be installed as the notebook user"
    assert resolved_pip_targets(copy / "binder" / "environment.yml")["-e"] == [copy.resolve()]
    assert (copy / "pyproject.toml").is_file()


# README


def test_binder_badge_opens_the_start_here_notebook():
    repository = pyproject()["project"]["urls"]["Repository"]
    assert repository.startswith("https://github.com/"), repository
    owner_name = repository.removeprefix("https://github.com/").strip("/")
    badge = re.search(r"\]\((https://mybinder\.org/v2/gh/[^)\s]+)\)", (ROOT / "README.md").read_text())
    assert badge, "README.md has no Binder badge"
    assert badge[1] == f"https://mybinder.org/v2/gh/{owner_name}/HEAD?urlpath=lab/tree/{START_NOTEBOOK}"
    assert (ROOT / START_NOTEBOOK).is_file()
