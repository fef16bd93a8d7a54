"""The command lines' option checking: a number that would hang the program is refused in one line."""

import subprocess
import sys
from pathlib import Path

import pytest

from asyncio_patterns.lab.cli import Parser, number_type

LABSERVER = [str(Path(sys.executable).with_name("asyncio-labserver"))]


def test_inf_only_where_it_is_allowed():
    parser = Parser(prog="demo")
    parser.add_argument("--wait", type=number_type(0))
    parser.add_argument("--limit", type=number_type(0, infinite=True))
    assert parser.parse_args(["--limit", "inf"]).limit == float("inf")
    for text in ("inf", "Infinity"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--wait", text])
    with pytest.raises(SystemExit):
        parser.parse_args(["--limit", "-inf"])


@pytest.mark.parametrize("argv, message", [
    (["--latency", "inf"], "argument --latency: must be a finite number >= 0, got inf"),
    (["--jitter", "inf"], "argument --jitter: must be a finite number >= 0, got inf"),
    (["--connect-cost", "inf"], "argument --connect-cost: must be a finite number >= 0, got inf"),
    (["--rate-limit-window", "0"], "argument --rate-limit-window: must be >= 0.001, got 0"),
])
def test_the_lab_server_refuses_what_would_hang_or_divide_by_zero(argv, message):
    result = subprocess.run([*LABSERVER, *argv], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"asyncio-labserver: error: {message} (see --help)"]


def test_the_lab_servers_help_says_which_options_0_turns_off():
    text = " ".join(subprocess.run([*LABSERVER, "--help"], capture_output=True, text=True, timeout=30).stdout.split())
    assert "0 turns --jitter, --capacity, --failure-rate, --rate-limit and --connect-cost off" in text
    assert "seconds per rate-limit window, at least 0.001" in text and "--rate-limit 0 turns the limit off" in text


def test_help_is_plain_text_even_where_colour_is_forced():
    # a Jupyter kernel sets FORCE_COLOR for its children; 3.14's argparse would colour the help
    env = {"FORCE_COLOR": "1", "PATH": "/usr/bin:/bin"}
    for argv in (LABSERVER, [str(Path(sys.executable).with_name("asyncio-jobservice"))]):
        result = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=30, env=env)
        assert result.returncode == 0 and "\x1b[" not in result.stdout and result.stdout.startswith("usage: ")
