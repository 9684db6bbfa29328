"Run every notebook in `nbs/` as a test, the way `nbdev-test` does (cells flagged notest/slow/gpu are skipped)."
import os, subprocess, sys
from pathlib import Path
import pytest

NBS = Path(__file__).resolve().parent.parent/'nbs'
notebooks = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))

@pytest.mark.parametrize('nb', notebooks, ids=[p.stem for p in notebooks])
def test_notebook(nb):
    bindir = Path(sys.executable).parent
    exe = bindir/'nbdev-test'
    cmd = [str(exe) if exe.exists() else 'nbdev-test', str(nb), '--n-workers', '0', '--do-print']
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=NBS.parent)
    assert res.returncode == 0, f"{nb.name} failed:\n{res.stdout[-4000:]}\n{res.stderr[-8000:]}"
