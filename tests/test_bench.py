"""Smoke tests of `mcsc-bench loss --json` at tiny shapes (the reference shapes are for the bench itself).
The GPU check on its tiny configuration (`mcsc-bench gpu --device cpu --tiny --json`) is tested in `11_bench`."""
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
    # same perms, same loss: in float32 the vectorised loss sums each anchor's positives through class sums and the
    # loop pair by pair, so they agree to about 1e-4 relative, depending on the CPU's kernels (in float64 to 1e-9:
    # tests/test_contrast.py)
    assert abs(full[0]['loss'] - full[1]['loss']) < 3e-4 * abs(full[1]['loss'])
    assert by['full', 'fixed']['n_groups'] == 11**2 and by['full', 'legacy']['n_groups'] == 10**2

def test_table_and_bad_subcommand(capsys):
    "In-process: the plain table of one worker measurement, and a one-line error (exit 2) on an unknown subcommand."
    from mcsc_fastai.bench import bench_loss, mcsc_bench
    rows = bench_loss(worker=True, scale='coarse', variant='fixed', size=56, maps=4, channels=8)
    assert 'n_groups_kept' in capsys.readouterr().out and rows[0]['fwd_bwd_s'] is not None
    with pytest.raises(SystemExit) as e: mcsc_bench('nothing')
    assert e.value.code == 2 and "mcsc-bench: error: unknown benchmark 'nothing'" in capsys.readouterr().err
    with pytest.raises(ValueError, match='unknown benchmark'): mcsc_bench('nothing', debug=True)

def test_gpu_check_refuses_full_scale_on_cpu(capsys):
    from mcsc_fastai.bench import mcsc_bench
    with pytest.raises(SystemExit) as e: mcsc_bench('gpu', device='cpu')
    assert e.value.code == 2
    assert capsys.readouterr().err.strip() == 'mcsc-bench: error: --device cpu: the check at full scale takes hours on a CPU; add --tiny'
