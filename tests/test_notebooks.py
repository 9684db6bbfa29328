"""Run every notebook in `nbs/` as a test, the way `nbdev-test` does: in this process, through nbdev's own `test_nb`
(one import of the package per test process, not one per notebook), skipping cells flagged with the project's
`tst_flags` (notest, slow, gpu). A notebook that starts processes of its own runs in a fresh process instead."""
import subprocess, sys
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_nb   # renamed: pytest would collect `test_nb` as a test

NBS = Path(__file__).resolve().parent.parent/'nbs'
notebooks = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))
FLAGS = str(get_config().tst_flags).split()
OWN_PROCESS = {'09_distrib'}  # spawns ranks, which re-import their parent's main module: run it as `nbdev-test` would

def _in_own_process(nb:Path):
    exe = Path(sys.executable).parent/'nbdev-test'
    cmd = [str(exe) if exe.exists() else 'nbdev-test', str(nb), '--n-workers', '0', '--do-print']
    return subprocess.run(cmd, capture_output=True, text=True, cwd=NBS.parent)

@pytest.mark.parametrize('nb', notebooks, ids=[p.stem for p in notebooks])
def test_notebook(nb):
    if nb.stem in OWN_PROCESS:
        res = _in_own_process(nb)
        assert res.returncode == 0, f"{nb.name} failed:\n{res.stdout[-4000:]}\n{res.stderr[-8000:]}"
        return
    ok, _ = run_nb(nb, skip_flags=FLAGS)   # on failure nbdev prints the failing cell's traceback (shown by pytest)
    assert ok, f"{nb.name} failed: see the traceback above"
