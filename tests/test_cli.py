"Console scripts: a user error is one line `<tool>: error: ...` on stderr, exit status 2, no traceback (`--debug` shows it); logs are readable."
import subprocess, sys, textwrap
from pathlib import Path
import pytest
from mcsc_fastai.learner import tiny_config
from mcsc_fastai.train import train_run
from conftest import run_tool

BIN = Path(sys.executable).parent

def run(tool, *args, cwd=None):
    "Run a console script in a fresh process."
    return subprocess.run([str(BIN/tool), *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd)

run_here = run_tool   # the same command line, parsed and run in this process: no package import per test

def assert_one_line_error(res, tool, words):
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'{tool}: error: ') and words in lines[0], res.stderr[-3000:]
    assert 'Traceback' not in res.stderr

@pytest.fixture(scope='module')
def run_folder(phantom, tmp_path_factory):
    "A two-iteration run: a config and checkpoints to point the scripts at."
    out = tmp_path_factory.mktemp('runs')/'cts'
    train_run(tiny_config('cts', data=str(phantom), iters=2, eval_every=2), out, show_progress=False)
    return out

@pytest.mark.parametrize('args, words', [
    (['--data', '/nonexistent/ACDC'], '/nonexistent/ACDC: dataset folder does not exist'),
    (['--labelled', '0'], 'labelled subset of 0 patients'),
    (['--preset', 'nope'], "preset='nope'"),
    (['--method', 'foo'], "method='foo'"),
])
def test_train_user_errors(phantom, tmp_path, args, words):
    data = [] if '--data' in args else ['--data', phantom]
    res = run_here('mcsc-train', '--out', tmp_path/'X', *data, *args, cwd=tmp_path)
    assert_one_line_error(res, 'mcsc-train', words)
    assert not (tmp_path/'X').exists()

def test_data_user_error(tmp_path):
    assert_one_line_error(run('mcsc-data', 'convert-acdc', tmp_path/'nowhere', tmp_path/'out'), 'mcsc-data', 'nowhere: folder does not exist')

def test_eval_user_error(tmp_path):
    assert_one_line_error(run_here('mcsc-eval', '--run', tmp_path/'nowhere'), 'mcsc-eval', 'nowhere: not a run folder (no config.json)')

def test_umap_user_error(run_folder):
    res = run_here('mcsc-umap', '--run', run_folder, '--method', 'tsne', '--n-slices', 2, '--n-per-class', 10)
    assert_one_line_error(res, 'mcsc-umap', "method='tsne': use 'umap' or 'pca'")

def test_predict_user_error(run_folder, tmp_path):
    res = run_here('mcsc-predict', tmp_path/'scan.nii.gz', '--run', run_folder, '--out', tmp_path/'pred')
    assert_one_line_error(res, 'mcsc-predict', f"{tmp_path/'scan.nii.gz'}: file is missing")

def test_debug_shows_the_traceback(tmp_path):
    res = run('mcsc-eval', '--run', tmp_path/'nowhere', '--debug')
    assert res.returncode != 0 and 'Traceback' in res.stderr and 'not a run folder' in res.stderr

LOG = textwrap.dedent('''
    import sys
    from mcsc_fastai.learner import tiny_config
    from mcsc_fastai.train import train_run
    train_run(tiny_config('mcsc', data=sys.argv[1], iters=6, eval_every=2), sys.argv[2])
''')

def test_log_is_one_line_per_validation(phantom, tmp_path):
    "With stdout a pipe, training writes one plain line per validation: no progress bars, no carriage returns."
    res = subprocess.run([sys.executable, '-c', LOG, str(phantom), str(tmp_path/'run')], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert '\r' not in res.stdout and '\r' not in res.stderr
    lines = res.stdout.splitlines()
    assert [l.split()[1] for l in lines] == ['2/6', '4/6', '6/6'] and all(l.startswith('it ') for l in lines), res.stdout
    assert all('sup_cnn' in l and 'dice_cnn' in l and 'dice_swin' in l for l in lines)
