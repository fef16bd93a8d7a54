"""The set-up files agree with each other: versions are pinned in one place only.

- requirements.txt (the learner set: what the lessons use) and requirements-test.txt (what
  the tests add) are `make lock`'s output, written from uv.lock: every line ``name==version``,
  with a marker where platforms or Python versions differ; they pin everything in their
  dependency group of pyproject.toml, agree on every package they share, and the learner pins
  satisfy the package's dependencies in pyproject.toml;
- every pin has a wheel, in uv.lock's file lists, for each tested Python on Linux, macOS and
  Windows (tools/lock_wheels.py), so nothing is built from source on a learner's laptop;
- the learner set holds what the notebooks and the package import, and no test tool;
- environment.yml and binder/environment.yml ask for the recording Python (3.14) and, with
  paths resolved from each file's own folder (as conda does), install the learner pins and
  the package; Binder installs no test tool;
- the tested versions are the same in tools/find_python.py, the Makefile and the README;
- without PYTHON, .venv is built with the recording Python when it is found, else the newest
  tested one; ``--recorded`` says in one line when the recording Python is missing;
- ``make`` builds .venv with the interpreter it is given, refuses one older than 3.11, goes
  ahead with a note on an untested newer one, rebuilds .venv for a different interpreter,
  installs the learner pins and the package, and the test pins only for the tests;
- binder/postBuild puts the JupyterLab settings where JupyterLab reads them;
- repo2docker (Binder), run on a clean copy of the repository, picks the conda buildpack,
  reads binder/environment.yml rather than the root one, builds Python 3.14, installs the
  package after the repository has been copied in, then runs binder/postBuild;
- the README's Binder badge opens the start-here notebook of the repository named in
  pyproject.toml.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

import find_python  # tools/, on the path through tests/conftest.py
import lock_wheels

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT_FILES = ["environment.yml", "binder/environment.yml"]
LOCKS = {"learner": "requirements.txt", "test": "requirements-test.txt"}  # dependency group: its lock
START_NOTEBOOK = "notebooks/00_start_here.ipynb"
# What a learner never needs: the test runners, the browser driver, Binder's builder and Docker.
# pytest, pytest-asyncio and looptime are in the learner set: lesson 13 runs a test suite with them.
TEST_TOOLS = ["pytest-timeout", "nbval", "playwright", "jupyter-repo2docker", "docker"]


TESTED = find_python.TESTED
RECORDED_ON = find_python.RECORDED


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def makefile_variable(name: str) -> str:
    return re.search(rf"^{name} := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)[1].strip()


def requirement_lines(path: Path) -> list[str]:
    """The lines of a requirements file that are not blank or comments."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def locked(relative: str) -> list[Requirement]:
    return [Requirement(line) for line in requirement_lines(ROOT / relative)]


def pins(relative: str = "requirements.txt") -> dict[str, set[str]]:
    """A lock file as {normalised name: {versions}} (two where Python versions need two)."""
    found: dict[str, set[str]] = {}
    for requirement in locked(relative):
        found.setdefault(canonicalize_name(requirement.name), set()).add(str(requirement.specifier)[2:])
    return found


def direct(group: str) -> list[str]:
    """The package names a dependency group of pyproject.toml asks for."""
    return [Requirement(text).name for text in pyproject()["dependency-groups"][group]]


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
    as conda does when it runs pip; any other pip line is a package pinned outside the
    lock files and fails here."""
    targets: dict[str, list[Path]] = {"-r": [], "-e": []}
    for line in pip_lines(yaml.safe_load(env_file.read_text())):
        option, _, path = line.partition(" ")
        assert option in targets and path.strip(), (
            f"{env_file.name}: pip line {line!r} is neither '-r <requirements.txt>' nor "
            "'-e <repository root>'; pin packages in requirements.txt instead"
        )
        targets[option].append((env_file.parent / path.strip()).resolve())
    return targets


# pyproject.toml's dependency groups, uv.lock and the requirements files written from it


@pytest.mark.parametrize("relative", LOCKS.values())
def test_lock_pins_every_line_exactly(relative):
    text = (ROOT / relative).read_text()
    assert text.startswith("# This file was autogenerated by uv via the following command:\n#    uv export "), (
        f"{relative} is written by `make lock`, not by hand"
    )
    seen: dict[str, list[Marker | None]] = {}
    for line in requirement_lines(ROOT / relative):
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert (
            not requirement.extras and requirement.url is None
            and len(specifiers) == 1 and specifiers[0].operator == "=="
            and "*" not in specifiers[0].version
        ), f"{relative}: {line!r} is not name==version (with an optional marker)"
        Version(specifiers[0].version)  # raises if it is not a valid version
        seen.setdefault(canonicalize_name(requirement.name), []).append(requirement.marker)
    # A package pinned twice needs markers that never hold together (one pin per Python).
    for name, markers in seen.items():
        if len(markers) > 1:
            assert None not in markers, f"{relative}: {name} is pinned more than once without a marker"
            for version in ["3.11.0", "3.11.9", "3.12.0", "3.13.0", "3.14.0", "3.15.0"]:
                for platform in ["linux", "darwin", "win32"]:
                    env = {"python_full_version": version, "python_version": version[:4],
                           "sys_platform": platform, "os_name": "nt" if platform == "win32" else "posix"}
                    held = sum(marker.evaluate(env) for marker in markers)
                    assert held <= 1, f"{relative}: {name} is pinned {held} times for Python {version} on {platform}"


@pytest.mark.parametrize("group", LOCKS)
def test_every_direct_dependency_is_pinned(group):
    pinned = pins(LOCKS[group])
    wanted = direct(group)
    assert wanted, f"the {group} group lists no packages"
    missing = [name for name in wanted if canonicalize_name(name) not in pinned]
    assert not missing, f"in the {group} group but not pinned in {LOCKS[group]} (run make lock): {missing}"


def test_every_pin_has_a_wheel_for_every_tested_python_on_every_platform():
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    problems = lock_wheels.missing_wheels(lock, [ROOT / relative for relative in LOCKS.values()])
    assert not problems, "a learner would build these from source (run make lock):\n" + "\n".join(problems)


def test_the_wheel_check_finds_a_pin_without_wheels_for_the_newest_python(tmp_path):
    # numpy 2.4 and contourpy 1.3 have no wheels for 3.15: one pin for 3.11 to 3.15 fails there.
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    old = {package["name"]: package["version"] for package in lock["package"]
           if package["name"] in ("numpy", "contourpy") and package["version"].startswith(("2.4.", "1.3."))}
    assert sorted(old) == ["contourpy", "numpy"], "uv.lock forks numpy and contourpy by Python version"
    unforked = tmp_path / "requirements.txt"
    unforked.write_text("".join(f"{name}=={version}\n" for name, version in old.items()))
    problems = lock_wheels.missing_wheels(lock, [unforked])
    assert problems == [f"{name}=={version} has no wheel for Python 3.15 on {platform}"
                        for name, version in old.items() for platform in ("linux", "macOS", "Windows")]


def test_the_two_locks_agree():
    learner, test = pins(), pins("requirements-test.txt")
    differ = {name: (learner[name], test[name]) for name in learner.keys() & test.keys() if learner[name] != test[name]}
    assert not differ, f"the two locks pin these differently (run make lock): {differ}"


def test_pins_satisfy_the_package_dependencies():
    pinned = pins()
    dependencies = [Requirement(text) for text in pyproject()["project"]["dependencies"]]
    assert dependencies, "pyproject.toml lists no dependencies"
    for requirement in dependencies:
        versions = pinned.get(canonicalize_name(requirement.name))
        assert versions, f"pyproject.toml needs {requirement}, which requirements.txt does not pin"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"pyproject.toml needs {requirement} but requirements.txt pins {requirement.name}=={version}"
            )


def test_the_tested_versions_agree():
    assert TESTED == ("3.11", "3.12", "3.13", "3.14", "3.15") and RECORDED_ON == "3.14"
    requires_python = SpecifierSet(pyproject()["project"]["requires-python"])
    assert requires_python.contains(f"{TESTED[0]}.0") and not requires_python.contains("3.10.99"), requires_python
    assert makefile_variable("OLDEST_TESTED") == TESTED[0], "the locks resolve for the oldest tested Python"
    assert makefile_variable("NEWEST_TESTED") == TESTED[-1], "every notebook runs on the newest tested Python"
    assert makefile_variable("RECORDED_ON") == RECORDED_ON, "nbval compares outputs on the recording Python"
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "tested on Python 3.11, 3.12, 3.13, 3.14 and 3.15" in readme, "the README says which versions are tested"
    assert "recorded on 3.14" in readme


def imported_modules(source: str) -> set[str]:
    """Top-level names of what ``source`` imports (top-level await allowed, magics dropped)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    tree = compile(code, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_learner_set_holds_what_the_lessons_import_and_no_test_tool():
    sources = [cell.source for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
               for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    sources += [path.read_text() for path in (ROOT / "src").rglob("*.py")]
    third_party = set().union(*map(imported_modules, sources)) - set(sys.stdlib_module_names) - {"asyncio_patterns"}
    distributions = packages_distributions()
    pinned = pins()
    unpinned = {module: distributions.get(module) for module in third_party
                if not any(canonicalize_name(d) in pinned for d in distributions.get(module, []))}
    assert not unpinned, f"imported by a lesson or the package, not in requirements.txt (add to the learner group in pyproject.toml): {unpinned}"
    assert "ipykernel" in pinned and "jupyterlab" in pinned
    tools = [name for name in TEST_TOOLS if name in pinned]
    assert not tools, f"test tools in the learner pins (move them to the test group in pyproject.toml): {tools}"
    assert all(name in pins("requirements-test.txt") for name in TEST_TOOLS)


# environment.yml and binder/environment.yml


@pytest.mark.parametrize("relative", ENVIRONMENT_FILES)
def test_environment_file_pins_the_recording_python_and_nothing_else_in_conda(relative):
    packages = conda_packages(environment(relative))
    python = [p for p in packages if re.match(r"python\b", p)]
    assert len(python) == 1 and re.fullmatch(rf"python\s*=+\s*{re.escape(RECORDED_ON)}(\.\*)?", python[0]), (
        f"{relative}: want exactly one 'python={RECORDED_ON}', got {python}"
    )
    others = set(packages) - {python[0], "pip"}
    assert not others, f"{relative}: conda packages {sorted(others)} would be versioned outside requirements.txt"


@pytest.mark.parametrize("relative", ENVIRONMENT_FILES)
def test_environment_file_installs_the_learner_pins_and_the_package(relative):
    targets = resolved_pip_targets(ROOT / relative)
    assert targets["-r"] == [ROOT / "requirements.txt"], (
        f"{relative}: '-r' must point at the repository's requirements.txt (the learner set) from the file's own folder"
    )
    assert targets["-e"] == [ROOT], f"{relative}: '-e' must point at the repository root from the file's own folder"
    assert (ROOT / "pyproject.toml").is_file()


def test_both_environment_files_install_the_same_things():
    root, binder = (environment(relative) for relative in ENVIRONMENT_FILES)
    assert sorted(conda_packages(root)) == sorted(conda_packages(binder))
    assert resolved_pip_targets(ROOT / ENVIRONMENT_FILES[0]) == resolved_pip_targets(ROOT / ENVIRONMENT_FILES[1])


def installed_by(requirements: Path) -> set[str]:
    """Every package name a requirements file installs, following its -r and -c lines."""
    names = set()
    for line in requirement_lines(requirements):
        option, _, rest = line.partition(" ")
        if option in ("-r", "-c"):
            names |= installed_by(requirements.parent / rest.strip())
        else:
            names.add(canonicalize_name(Requirement(line).name))
    return names


def test_binder_installs_no_test_tool():
    binder = ROOT / "binder"
    installed = set().union(*(installed_by(path) for path in resolved_pip_targets(binder / "environment.yml")["-r"]))
    test_only = set(pins("requirements-test.txt")) - set(pins())
    assert test_only >= set(TEST_TOOLS)
    assert not installed & test_only, f"Binder would install test tools: {sorted(installed & test_only)}"
    # repo2docker reads nothing else from binder/ that installs packages.
    assert sorted(p.name for p in binder.iterdir()) == ["environment.yml", "postBuild"]
    assert not re.search(r"\b(pip|conda|mamba|uv)\b", (binder / "postBuild").read_text().split("set -eu", 1)[1])


# JupyterLab settings


def test_postbuild_installs_the_settings_where_jupyterlab_reads_them(tmp_path):
    from jupyterlab.commands import get_app_dir

    settings = json.loads((ROOT / "jupyterlab-settings" / "overrides.json").read_text())
    assert settings["@jupyterlab/apputils-extension:notification"] == {"checkForUpdates": False, "fetchNews": "false"}
    # JupyterLab reads overrides from {app dir}/settings; the app dir is in the environment.
    assert Path(get_app_dir()).resolve() == (Path(sys.prefix) / "share" / "jupyter" / "lab").resolve()
    subprocess.run([str(ROOT / "binder" / "postBuild")], cwd=ROOT, check=True,
                   env=os.environ | {"NB_PYTHON_PREFIX": str(tmp_path)})
    installed = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(installed.read_text()) == settings


# make

# Stands in for the interpreter make is given, and for the venv python it creates:
# `-c CODE` runs CODE as if this were Python FAKE_VERSION at this script's path; `-m venv DIR`
# creates DIR/bin/python as another copy of this script and DIR/pyvenv.cfg naming this
# script; every other call is logged, nothing installed.
FAKE_PYTHON = """\
#!{python}
import json, os, shutil, sys
args = sys.argv[1:]
if args[:1] == ["-c"]:
    sys.version = os.environ["FAKE_VERSION"] + " (fake)"
    sys.version_info = tuple(int(part) for part in os.environ["FAKE_VERSION"].split("."))
    sys.executable = os.path.realpath(__file__)
    exec(args[1])
    sys.exit(0)
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps([os.path.realpath(__file__)] + args) + "\\n")
if args[:2] == ["-m", "venv"]:
    os.makedirs(os.path.join(args[2], "bin"))
    shutil.copy(__file__, os.path.join(args[2], "bin", "python"))
    with open(os.path.join(args[2], "pyvenv.cfg"), "w") as cfg:
        cfg.write("executable = " + os.path.realpath(__file__) + "\\n")
"""
SET_UP_FILES = ["Makefile", "requirements.txt", "requirements-test.txt", "pyproject.toml",
                "tools/find_python.py", "binder/postBuild", "jupyterlab-settings/overrides.json"]


@pytest.fixture
def course(tmp_path):
    """A copy of the set-up files, and a function running make there with a fake Python."""
    for relative in SET_UP_FILES:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, tmp_path / relative)
    log = tmp_path / "calls.jsonl"

    def make(target: str, version: str, name: str = "fake-python") -> tuple[subprocess.CompletedProcess, list]:
        fake = tmp_path / name
        fake.write_text(FAKE_PYTHON.format(python=sys.executable))
        fake.chmod(0o755)
        log.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
        result = subprocess.run(
            ["make", "--no-print-directory", f"PYTHON={fake}", target],
            cwd=tmp_path, env=env | {"FAKE_VERSION": version, "FAKE_LOG": str(log)},
            capture_output=True, text=True, timeout=60,
        )
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return result, calls

    make.root = tmp_path
    return make


def option_values(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == option]


def installs(calls: list[list[str]]) -> list[list[str]]:
    return [call[4:] for call in calls if call[1:4] == ["-m", "pip", "install"]]


def test_make_refuses_a_python_older_than_3_11_in_one_line(course):
    result, calls = course("venv", "3.10.13")
    assert result.returncode != 0
    message = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert len(message) == 1 and "Python 3.10.13" in message[0] and "needs 3.11 or newer" in message[0], result.stderr
    assert calls == [] and not (course.root / ".venv").exists(), "nothing may be installed with the wrong Python"


def test_make_venv_installs_the_learner_pins_then_the_package(course):
    result, calls = course("venv", "3.13.5")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "a tested version needs no note"
    assert calls[0][1:] == ["-m", "venv", ".venv"] and calls[0][0] == str((course.root / "fake-python").resolve())
    pip = installs(calls)
    requirements = [option_values(args, "-r") for args in pip if option_values(args, "-r")]
    packages = [args for args in pip if option_values(args, "-e")]
    assert requirements == [["requirements.txt"]], "make venv installs the learner pins only"
    assert [option_values(args, "-e") for args in packages] == [["."]]
    assert "--no-deps" in packages[0], "with --no-deps only the pins choose versions"
    assert pip.index(packages[0]) > next(i for i, args in enumerate(pip) if option_values(args, "-r")), "the pins go in first"
    assert (course.root / ".venv" / ".installed").exists()
    settings = course.root / ".venv" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert settings.read_text() == (ROOT / "jupyterlab-settings" / "overrides.json").read_text()
    again, calls = course("venv", "3.13.5")
    assert again.returncode == 0 and calls == [], "an up-to-date .venv is left alone"


def test_the_tests_add_the_test_pins(course):
    course("venv", "3.13.5")
    result, calls = course(".venv/.installed-test", "3.13.5")
    assert result.returncode == 0, result.stderr
    assert [option_values(args, "-r") for args in installs(calls)] == [["requirements-test.txt"]]


def test_make_goes_ahead_on_an_untested_newer_python_with_a_note(course):
    result, calls = course("venv", "3.16.0")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ("Python 3.16.0 is newer than the tested versions (3.11, 3.12, 3.13, 3.14, 3.15); "
                                     "going ahead with it")
    assert calls[0][1:] == ["-m", "venv", ".venv"]


def test_a_different_interpreter_rebuilds_the_venv(course):
    course("venv", "3.13.5")
    result, calls = course("venv", "3.12.1", name="other-python")
    assert result.returncode == 0, result.stderr
    other = str((course.root / "other-python").resolve())
    assert calls[0] == [other, "-m", "venv", ".venv"], "a fresh .venv is made with the new interpreter"
    assert [option_values(args, "-r") for args in installs(calls) if option_values(args, "-r")] == [["requirements.txt"]]
    assert "making it afresh" in result.stderr


# Stands in for an installed interpreter when find_python.py probes it: prints its version and
# its own path, as PROBE asks.
PROBED_PYTHON = """\
#!/bin/sh
echo {version}
echo "$0"
"""


def installed(tmp_path: Path, versions: dict[str, str]) -> dict[str, str]:
    """A PATH holding only fake interpreters {name: version}, and no pyenv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, version in versions.items():
        (bin_dir / name).write_text(PROBED_PYTHON.format(version=version))
        (bin_dir / name).chmod(0o755)
    return {"PATH": str(bin_dir), "PYENV_ROOT": str(tmp_path / "no-pyenv"), "HOME": str(tmp_path)}


def find(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "find_python.py"), *args],
                          env=env, capture_output=True, text=True, timeout=60)


def test_venv_prefers_the_recording_python_to_a_newer_tested_one(tmp_path):
    env = installed(tmp_path, {"python3.15": "3.15.2", "python3.14": "3.14.10", "python3.13": "3.13.5"})
    assert find(env).stdout.strip() == str(tmp_path / "bin" / "python3.14")
    assert find(env, "--recorded").stdout.strip() == str(tmp_path / "bin" / "python3.14")


def test_without_the_recording_python_the_newest_tested_one_is_chosen(tmp_path):
    env = installed(tmp_path, {"python3.15": "3.15.2", "python3.12": "3.12.1"})
    assert find(env).stdout.strip() == str(tmp_path / "bin" / "python3.15")


def test_a_missing_recording_python_is_said_in_one_line(tmp_path):
    result = find(installed(tmp_path, {"python3.13": "3.13.5", "python3": "3.13.5"}), "--recorded")
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Python 3.14" in lines[0] and "strict nbval cannot" in lines[0], result.stderr


def test_ci_stops_before_the_tests_when_the_recording_python_is_missing():
    script = (ROOT / ".ci" / "run").read_text()
    assert script.index("find_python.py --recorded") < script.index("make -k test")
    assert "set -euo pipefail" in script


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
                     "binder/postBuild", "jupyterlab-settings/overrides.json",
                     "src/asyncio_patterns/__init__.py", START_NOTEBOOK]:
        assert (copy / relative).is_file(), f"{relative} is not tracked by git (git add it)"
    assert not (copy / ".venv").exists() and not (copy / ".git").exists()


def test_binder_builds_the_recording_python_from_binder_environment_yml(repo2docker_run):
    dockerfile, log, _ = repo2docker_run
    assert f"Building conda environment for python={RECORDED_ON}" in log
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


def test_binder_runs_postbuild_after_installing_the_environment(repo2docker_run):
    dockerfile, _, copy = repo2docker_run
    lines = dockerfile.splitlines()
    installed = next(i for i, line in enumerate(lines) if "env update" in line and "binder/environment.yml" in line)
    assert lines.index("RUN ./binder/postBuild") > installed, "the settings go into the installed environment"
    assert "requirements-test" not in dockerfile
    assert os.access(copy / "binder" / "postBuild", os.X_OK), "git must keep postBuild executable"


# README


def test_binder_badge_opens_the_start_here_notebook():
    repository = pyproject()["project"]["urls"]["Repository"]
    assert repository.startswith("https://github.com/"), repository
    owner_name = repository.removeprefix("https://github.com/").strip("/")
    badge = re.search(r"\]\((https://mybinder\.org/v2/gh/[^)\s]+)\)", (ROOT / "README.md").read_text())
    assert badge, "README.md has no Binder badge"
    assert badge[1] == f"https://mybinder.org/v2/gh/{owner_name}/HEAD?urlpath=lab/tree/{START_NOTEBOOK}"
    assert (ROOT / START_NOTEBOOK).is_file()
