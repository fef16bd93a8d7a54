"""Find the Python interpreters a learner has, the way `make` looks for them.

    python3 tools/find_python.py [PYTHON]              the interpreter .venv is built with
    python3 tools/find_python.py --venv DIR [PYTHON]   the same, and (re)make DIR with it
    python3 tools/find_python.py --others DIR          the tested versions DIR is not built with
    python3 tools/find_python.py --recorded            the Python the stored outputs come from

Interpreters are looked for on PATH (python3.15 ... python3.11, python3) and in pyenv's
versions ($(pyenv root)/versions/*/bin/python3.X), and each is run once: a name that is found
but does not run (a pyenv shim for a version that is not selected) is passed over. Without
PYTHON the recorded version (3.14) is chosen when found, else the newest tested one found;
PYTHON (a name or a path) picks another. Older than 3.11 is refused; newer than the tested
versions goes ahead with a note. Notes and refusals go to stderr, one line each; the answer
goes to stdout.

Runs on any Python 3 (it is what starts `make`), so it uses nothing newer than 3.6.
"""

import glob
import os
import shutil
import subprocess
import sys

TESTED = ("3.11", "3.12", "3.13", "3.14", "3.15")  # the README says the same
RECORDED = "3.14"  # the stored outputs' Python: the one most learners have, and .venv's first choice
OLDEST = TESTED[0]
PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.executable)"


def as_tuple(version):
    return tuple(int(part) for part in version.split("."))


def short(version):
    return ".".join(version.split(".")[:2])


def probe(command):
    """(version, executable) of an interpreter that runs, or None."""
    try:
        result = subprocess.run([command, "-c", PROBE], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = result.stdout.split()
    if result.returncode != 0 or len(lines) != 2:
        return None
    return lines[0], os.path.realpath(lines[1])


def pyenv_root():
    if os.environ.get("PYENV_ROOT"):
        return os.environ["PYENV_ROOT"]
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            return subprocess.run([pyenv, "root"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  universal_newlines=True, timeout=30).stdout.strip() or None
        except (OSError, subprocess.TimeoutExpired):
            return None
    return None


def candidates():
    """Commands to try, PATH first: python3.15 ... python3, then pyenv's versions."""
    names = ["python" + version for version in reversed(TESTED)] + ["python3"]
    found = [shutil.which(name) for name in names]
    root = pyenv_root()
    if root:
        found += sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3.[0-9]*")))
    return [command for command in found if command and not command.endswith("-config")]


def interpreters():
    """{executable: version} of every interpreter found that runs."""
    found = {}
    for command in candidates():
        answer = probe(command)
        if answer:
            found.setdefault(answer[1], answer[0])
    return found


def newest_of(found, versions):
    """The executable of the newest patch release of the newest of ``versions`` found."""
    matching = [(as_tuple(v), exe) for exe, v in found.items() if short(v) in versions]
    return max(matching)[1] if matching else None


def choose(requested):
    """The executable to build .venv with, or exit with one line that says what to do."""
    fallback = None
    if requested:
        answer = probe(requested)
        if answer is None:
            # A pyenv shim runs only for the version pyenv has selected: look in pyenv's versions.
            name = os.path.basename(requested)
            same_name = [exe for exe in interpreters() if os.path.basename(exe) == name]
            if not same_name:
                sys.exit("PYTHON=%s does not run; give the full path of a Python %s or newer"
                         % (requested, OLDEST))
            answer = fallback = probe(same_name[0])
        version, executable = answer
    else:
        found = interpreters()
        executable = newest_of(found, [RECORDED]) or newest_of(found, TESTED)
        if executable is None:  # none of the tested versions: the newest that is new enough
            newer = [(as_tuple(v), exe) for exe, v in found.items() if as_tuple(v) >= as_tuple(OLDEST)]
            if not newer:
                sys.exit("no Python %s or newer found (looked on PATH and in pyenv's versions); "
                         "install Python %s, or set PYTHON=/path/to/python3" % (OLDEST, RECORDED))
            executable = max(newer)[1]
        version = found[executable]
    if as_tuple(version) < as_tuple(OLDEST):
        sys.exit("Python %s at %s is too old: the course needs %s or newer; install Python %s, "
                 "or set PYTHON=/path/to/python%s" % (version, executable, OLDEST, RECORDED, RECORDED))
    if fallback:
        note("PYTHON=%s does not run from PATH; using %s" % (requested, executable))
    if short(version) not in TESTED and as_tuple(version) > as_tuple(TESTED[-1]):
        note("Python %s is newer than the tested versions (%s); going ahead with it"
             % (version, ", ".join(TESTED)))
    return executable


def built_with(venv):
    """The executable DIR/pyvenv.cfg says the venv was made with, or None."""
    try:
        with open(os.path.join(venv, "pyvenv.cfg")) as cfg:
            settings = dict(line.split("=", 1) for line in cfg if "=" in line)
    except OSError:
        return None
    executable = {key.strip(): value.strip() for key, value in settings.items()}.get("executable")
    # "executable" is written by Python 3.11 and newer, the only ones a venv is made with.
    return os.path.realpath(executable) if executable else None


def make_venv(venv, executable):
    """Make ``venv`` with ``executable`` unless it was made with it already.

    DIR/pyvenv.cfg is rewritten only then, so make sees it change exactly when the
    interpreter does (and reinstalls everything into the fresh venv).
    """
    if built_with(venv) == executable and os.path.exists(os.path.join(venv, "bin", "python")):
        return
    if os.path.exists(venv):
        note("%s was made with %s; making it afresh with %s"
             % (venv, built_with(venv) or "an unknown Python", executable))
        shutil.rmtree(venv)
    subprocess.run([executable, "-m", "venv", venv], check=True)


def others(venv):
    """Print "VERSION EXECUTABLE" for each tested version found that ``venv`` is not built with."""
    found = interpreters()
    in_venv = found.get(built_with(venv) or "")
    for version in TESTED:
        executable = newest_of(found, [version])
        if executable is None:
            note("Python %s: not installed, skipped" % version)
        elif in_venv and short(in_venv) == version:
            note("Python %s: tested in %s" % (version, venv))
        else:
            print(version, executable)


def recorded():
    """Print the recorded Python's executable, or exit with one line: strict nbval needs it."""
    executable = newest_of(interpreters(), [RECORDED])
    if executable is None:
        sys.exit("Python %s, which the stored outputs were recorded on, was not found on PATH or in "
                 "pyenv's versions: strict nbval cannot compare them; install Python %s or put it on PATH"
                 % (RECORDED, RECORDED))
    print(executable)


def note(text):
    sys.stderr.write(text + "\n")


def main(args):
    if args[:1] == ["--others"] and len(args) == 2:
        others(args[1])
    elif args == ["--recorded"]:
        recorded()
    elif args[:1] == ["--venv"] and len(args) in (2, 3):
        make_venv(args[1], choose(args[2] if len(args) == 3 else ""))
    elif len(args) <= 1 and not (args and args[0].startswith("-")):
        print(choose(args[0] if args else ""))
    else:
        sys.exit(__doc__.strip().splitlines()[0] + "\nusage:\n" + "\n".join(__doc__.splitlines()[2:6]))


if __name__ == "__main__":
    main(sys.argv[1:])
