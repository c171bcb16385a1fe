"""storecore type-checks with mypy against a baseline that only shrinks.

``tests/mypy-baseline.txt`` lists the errors accepted today (file, error code
and message; line numbers left out so unrelated edits do not churn it).  A new
error fails this test; an error that is gone must leave the baseline too, so
the list can only get shorter.  Regenerate it with
``python tests/test_types.py --write-baseline`` after fixing errors.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "tests" / "mypy-baseline.txt"
LINE = re.compile(r"^(?P<file>[^:]+):\d+: error: (?P<msg>.*?)\s+\[(?P<code>[\w-]+)\]$")


def mypy_errors(cache_dir: Path) -> Counter[str]:
    """Run mypy on storecore; return its errors as ``file: [code] message`` with their counts."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache_dir), "--no-pretty", "--no-error-summary"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"mypy failed to run: {proc.stderr.strip() or proc.stdout.strip()}")
    found: Counter[str] = Counter()
    for line in proc.stdout.splitlines():
        m = LINE.match(line.strip())
        if m:
            found[f"{m['file']}: [{m['code']}] {m['msg']}"] += 1
    return found


def read_baseline() -> Counter[str]:
    if not BASELINE.exists():
        return Counter()
    return Counter(line for line in BASELINE.read_text().splitlines() if line and not line.startswith("#"))


@pytest.mark.slow
def test_storecore_types_only_improve(tmp_path):
    pytest.importorskip("mypy")
    found = mypy_errors(tmp_path / "mypy-cache")
    baseline = read_baseline()
    new = found - baseline
    gone = baseline - found
    assert not new, "new mypy errors in storecore:\n" + "\n".join(sorted(new))
    assert not gone, (
        "these baseline errors are fixed: remove them from tests/mypy-baseline.txt "
        "(python tests/test_types.py --write-baseline):\n" + "\n".join(sorted(gone))
    )


if __name__ == "__main__" and "--write-baseline" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        errors = mypy_errors(Path(d))
    lines = sorted(errors.elements())
    BASELINE.write_text("# mypy errors accepted in storecore; this list may only shrink (tests/test_types.py)\n"
                        + "".join(f"{line}\n" for line in lines))  # fmt: skip
    print(f"{len(lines)} errors written to {BASELINE}")
