"Studies: a study killed after its first run finishes the rest when started again; the command line's errors."
import json, os, signal, subprocess, sys, time, textwrap
from pathlib import Path
import pytest
from conftest import run_tool

STUDY = textwrap.dedent('''
    import sys, json, dataclasses
    from mcsc_fastai.study import run_study
    from mcsc_fastai.learner import tiny_config
    keep = ('size', 'unet_widths', 'swin_embed_dim', 'swin_heads', 'swin_window', 'swin_drop_path', 'bs',
            'labelled_bs', 'eval_every', 'num_workers')
    tiny = {k: v for k, v in dataclasses.asdict(tiny_config('cts')).items() if k in keep}
    res = run_study(sys.argv[2], 'demo', 'unet-ls,cts', '2', '0,1', iters=4, sets=tiny, data=sys.argv[1], verbose=False)
    print(json.dumps(res.attrs['trained']))
''')

def _study(phantom, out, **kw):
    return subprocess.Popen([sys.executable, '-c', STUDY, str(phantom), str(out)], **kw)

def test_a_killed_study_finishes_the_rest(phantom, tmp_path):
    out = tmp_path/'study'
    proc = _study(phantom, out)
    records, deadline = out/'records', time.time() + 600
    while not (records.exists() and any(records.glob('*.json'))) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the study finished before it could be killed"
    proc.send_signal(signal.SIGKILL); proc.wait()
    first = sorted(records.glob('*.json'))
    assert [p.name for p in first] == ['unet-ls-l2-s0.json']
    stamp = first[0].stat().st_mtime_ns
    res = subprocess.run([sys.executable, '-c', STUDY, str(phantom), str(out)], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    trained = json.loads(res.stdout.strip().splitlines()[-1])
    assert trained == ['cts-l2-s0', 'unet-ls-l2-s1', 'cts-l2-s1']       # the first run is not redone
    assert first[0].stat().st_mtime_ns == stamp
    assert sorted(p.name for p in records.glob('*.json')) == ['cts-l2-s0.json', 'cts-l2-s1.json', 'unet-ls-l2-s0.json', 'unet-ls-l2-s1.json']
    import pandas as pd
    rows = pd.read_csv(out/'results.csv')
    assert len(rows) == 2 * (2*3 + 2*2*3) and set(rows.method) == {'unet-ls', 'cts'} and set(rows.split) == {'test', 'val'}
    again = subprocess.run([sys.executable, '-c', STUDY, str(phantom), str(out)], capture_output=True, text=True, timeout=900)
    assert json.loads(again.stdout.strip().splitlines()[-1]) == []   # a third start trains nothing

def _compare(*args):
    "mcsc-compare's command line, run in this process (the script itself runs in a fresh process in test_train_cli)."
    return run_tool('mcsc-compare', *args)

@pytest.mark.parametrize('args, words', [
    (['--methods', 'unet-ls,fixmatch'], 'fixmatch'),
    (['--preset', 'nope'], 'nope'),
    (['--set', 'colour=red'], 'colour'),
    (['--labelled', 'seven'], 'seven'),
    (['--data', '/nonexistent/ACDC'], '/nonexistent/ACDC'),
    (['--methods', 'unet-ls,mcsc', '--baseline', 'cps'], '--baseline cps: not one of the study'),
    (['--subsets', '0,-1'], 'subsets [0, -1]'),
])
def test_compare_user_errors_are_one_line(tmp_path, args, words):
    res = _compare('--out', str(tmp_path/'study'), *args)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('mcsc-compare: error:') and words in lines[0], res.stderr
    assert 'Traceback' not in res.stderr
    assert not (tmp_path/'study').exists()
