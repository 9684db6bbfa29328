"Smoke tests of `mcsc-bench loss --json` at tiny shapes (the reference shapes are for the bench itself)."
import json, subprocess, sys
import pytest
from mcsc_fastai.core import data_root

TINY = ['--size', '56', '--maps', '4', '--channels', '8']

def bench(*args, timeout=300):
    "Run `python -m mcsc_fastai.bench` and return its JSON rows."
    res = subprocess.run([sys.executable, '-m', 'mcsc_fastai.bench', *args], capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])

def test_loss_json_all_variants():
    "Each variant in its own process (one scale: every process pays the package import)."
    rows = bench('loss', '--json', '--scale', 'full', *TINY)
    assert [(r['scale'], r['variant']) for r in rows] == [('full', v) for v in ('fixed', 'legacy', 'reference_loop')]
    for r in rows:
        assert r['fwd_bwd_s'] is not None and r['fwd_bwd_s'] >= 0 and r['peak_mb'] is not None, r
        assert 0 <= r['n_groups_kept'] <= r['n_groups'] and r['maps'] == 4
    by = {(r['scale'], r['variant']): r for r in rows}
    full = by['full', 'legacy'], by['full', 'reference_loop']
    assert full[0]['n_groups_kept'] == full[1]['n_groups_kept'] > 0
    assert abs(full[0]['loss'] - full[1]['loss']) < 1e-5 * abs(full[1]['loss'])   # same perms, same loss
    assert by['full', 'fixed']['n_groups'] == 11**2 and by['full', 'legacy']['n_groups'] == 10**2

def test_table_and_bad_subcommand(capsys):
    "In-process: the plain table of one worker measurement, and a clear exit on an unknown subcommand."
    from mcsc_fastai.bench import bench_loss, mcsc_bench
    rows = bench_loss(worker=True, scale='coarse', variant='fixed', size=56, maps=4, channels=8)
    assert 'n_groups_kept' in capsys.readouterr().out and rows[0]['fwd_bwd_s'] is not None
    with pytest.raises(SystemExit, match='unknown benchmark'): mcsc_bench('nothing')

@pytest.mark.skipif(data_root('ACDC') is None, reason='real ACDC data not available (set MCSC_DATA)')
def test_loss_on_acdc_labels():
    from mcsc_fastai.bench import loss_worker
    row = loss_worker('fixed', 'coarse', labels='acdc', size=56, maps=4, channels=8)
    assert row['labels'] == 'acdc' and 0.01 < row['foreground'] < 0.1 and row['fwd_bwd_s'] is not None
