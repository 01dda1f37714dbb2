"""The README's set-up commands, the CI entry point and the requirements agree with each other.

CI runs `bash .ci/run`, which must run the README's test command verbatim: if either file is
edited alone these tests fail.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
CI_RUN = REPO / ".ci" / "run"


def _shell_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", text, flags=re.S)


def _commands(block: str) -> list[str]:
    """Logical command lines of a shell snippet (continuations joined, comments dropped)."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def _readme_commands() -> list[str]:
    return [c for block in _shell_blocks(README.read_text()) for c in _commands(block)]


def _one(commands: list[str], *needles: str) -> str:
    found = [c for c in commands if all(n in c for n in needles)]
    assert len(found) == 1, f"expected one README command containing {needles}, found {found}"
    return found[0]


def _steps(command: str) -> list[list[str]]:
    """`a && b` -> [argv of a, argv of b]."""
    return [shlex.split(part) for part in command.split("&&")]


def readme_test_command() -> str:
    return _one(_readme_commands(), "requirements-dev.txt", "pytest")


def test_readme_run_command_installs_requirements_then_starts_the_app():
    steps = _steps(_one(_readme_commands(), "streamlit run"))
    assert steps[0][-4:] == ["pip", "install", "-r", "requirements.txt"], steps
    assert steps[-1][:3] == ["streamlit", "run", "app.py"], steps
    assert (REPO / "app.py").is_file() and (REPO / "requirements.txt").is_file()


def test_readme_test_command_installs_dev_requirements_then_runs_pytest():
    steps = _steps(readme_test_command())
    assert steps[0][-4:] == ["pip", "install", "-r", "requirements-dev.txt"], steps
    assert steps[-1][-3:] == ["python", "-m", "pytest"] or steps[-1][0] == "pytest", steps
    assert (REPO / "requirements-dev.txt").is_file()


def test_ci_run_ends_with_the_readme_test_command_verbatim():
    lines = _commands(CI_RUN.read_text())
    assert lines, ".ci/run is empty"
    assert lines[-1] == readme_test_command(), (
        f".ci/run's last command {lines[-1]!r} differs from the README's {readme_test_command()!r}")


def test_ci_run_fails_on_any_error_and_installs_debian_chromium():
    lines = _commands(CI_RUN.read_text())
    set_e = [i for i, c in enumerate(lines) if re.match(r"set\s+-\w*e", c)]
    assert set_e and set_e[0] < len(lines) - 1, (
        ".ci/run needs `set -e` (better -euo pipefail) before the tests")
    assert any("apt-get install" in c and "chromium" in c for c in lines), ".ci/run does not apt-get chromium"
    assert not any("playwright install" in c for c in lines), "Playwright must not download a browser"


def test_ci_run_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(CI_RUN)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _requirements(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines()
            if line.split("#")[0].strip()]


def test_requirements_pin_torch_2_13_0_exactly():
    torch = [r for r in _requirements(REPO / "requirements.txt") if re.match(r"torch\b", r)]
    assert [re.sub(r"\s+", "", r) for r in torch] == ["torch==2.13.0"], torch


def test_dev_requirements_include_runtime_pytest_and_playwright():
    reqs = _requirements(REPO / "requirements-dev.txt")
    names = {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].lower() for r in reqs}
    assert "-r requirements.txt" in reqs, reqs
    assert {"pytest", "playwright"} <= names, names
