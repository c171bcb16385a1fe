"""The README's ``python`` examples run as written (in a fresh folder)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    assert [line.split()[0] for line in first_block.strip().splitlines()] == ["./run", "./test"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "exec ./test" in ci


def test_readme_python_examples_run(tmp_path, monkeypatch):
    from storecore.backends.memory import InMemoryBackend

    blocks = python_blocks()
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    try:
        for block in blocks:  # later blocks use names from earlier ones, as a reader would
            exec(compile(block, str(README), "exec"), namespace)
    finally:
        InMemoryBackend.drop("scratch")
    assert (tmp_path / "data" / "results.npy").exists()
