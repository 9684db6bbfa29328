"The committed results hold metrics only: no pictures of real scans and no links to run folders outside the repository."
import subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def bad_results(entries:list) -> list:
    "Of `git ls-files -s` entries (mode, path): links, and side-by-side pictures of any study not on the phantoms (`demo-*`)."
    bad = []
    for mode, path in entries:
        parts = Path(path).parts
        if mode == '120000': bad.append(f'{path}: a link')
        elif parts[-1] == 'comparison.png' and not parts[1].startswith('demo-'): bad.append(f'{path}: a picture of real scans')
    return bad

def tracked(folder:str) -> list:
    out = subprocess.run(['git', 'ls-files', '-s', folder], cwd=ROOT, capture_output=True, text=True)
    if out.returncode: pytest.skip('not a git checkout')
    return [(l.split()[0], l.split('\t', 1)[1]) for l in out.stdout.splitlines()]

def test_checks_on_known_entries():
    entries = [('100644', 'results/demo-study/comparison.png'), ('100644', 'results/acdc-long/summary.png'),
               ('100644', 'results/acdc-long-probe/l6000/comparison.png'), ('120000', 'results/acdc-long/runs')]
    assert bad_results(entries) == ['results/acdc-long-probe/l6000/comparison.png: a picture of real scans',
                                    'results/acdc-long/runs: a link']

def test_results_hold_no_real_scans_or_links():
    entries = tracked('results')
    assert any(p.endswith('.json') for _, p in entries)      # the listing works: records are there
    assert bad_results(entries) == []
