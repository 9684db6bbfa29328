"The Synapse path end to end: the CT phantom passes `mcsc-data check`, a tiny run trains and prints Table R2's layout."
import json
from pathlib import Path
import pytest
from conftest import run_tool
from mcsc_fastai.core import SYNAPSE_CLASSES
from mcsc_fastai.synthetic import make_synthetic_synapse

ORGANS = list(SYNAPSE_CLASSES[1:])  # Table R2's columns: aorta, gallbladder, kidney L, kidney R, liver, pancreas, spleen, stomach

cli = run_tool   # a console script of the package, parsed as the installed script parses it, in this process

@pytest.fixture(scope='module')
def phantom(tmp_path_factory):
    "6 cases at 64 x 64: 2 test volumes, 4 training cases (the last 2 held out for validation)."
    return make_synthetic_synapse(tmp_path_factory.mktemp('data')/'synapse', n_cases=6, seed=0, size=64)

def test_cli_synth_synapse_passes_check(tmp_path):
    res = cli('mcsc-data', 'synth', tmp_path/'s', '--synapse', '--patients', 7, '--seed', 1)
    assert res.returncode == 0, res.stderr
    res = cli('mcsc-data', 'check', tmp_path/'s', '--labelled', 1, '--json')
    assert res.returncode == 0, res.stderr
    s = json.loads(res.stdout)
    assert (s['layout'], s['n_classes'], s['problems']) == ('synapse', 9, [])
    assert (s['n_test_volumes'], s['n_val_volumes'], s['n_train_patients'], s['n_labelled_patients']) == (3, 2, 2, 1)

@pytest.mark.parametrize('method', ['mcsc', 'cct'])
def test_tiny_synapse_run_prints_table_r2(phantom, tmp_path, method, capsys):
    from mcsc_fastai.learner import tiny_config
    from mcsc_fastai.train import train_run, evaluate_run
    cfg = tiny_config(method, dataset='synapse', n_classes=9, data=str(phantom), labelled=1, iters=2, eval_every=2)
    train_run(cfg, tmp_path/'run', show_progress=False)
    capsys.readouterr()
    res = evaluate_run(tmp_path/'run', split='test')
    header = next(l for l in capsys.readouterr().out.splitlines() if l.startswith('| Dice'))
    assert [c.strip() for c in header.strip('|').split('|')][1:] == ['mean'] + ORGANS + ['missed', 'fp']
    assert list(res['cnn']['classes']) == ORGANS and res['cnn']['n_volumes'] == 2
    assert 0 <= res['cnn']['dice_mean'] <= 1

def test_synapse_demo_data_is_generated_on_first_use(tmp_path, monkeypatch):
    import mcsc_fastai.train as train
    monkeypatch.chdir(tmp_path)
    made = []
    def fake_acdc(dest, **kw):   # the ACDC phantom takes seconds: record the call and write its marker only
        made.append(Path(dest)); Path(dest).mkdir(parents=True, exist_ok=True); (Path(dest)/'train_slices.list').write_text('x\n')
    monkeypatch.setattr(train, 'make_synthetic_acdc', fake_acdc)
    root = train.resolve_data(train.preset_config('synapse-demo', 'cct'))
    assert root == train.DEMO_SYNAPSE and (root/'lists_Synapse'/'train.txt').exists() and made == []
    assert train.resolve_data(train.preset_config('demo')) == train.DEMO_DATA and len(made) == 1   # written once
    assert (train.DEMO_DATA/'train_slices.list').read_text() == 'x\n' and not made[0].exists()   # renamed into place
    stamp = (root/'lists_Synapse'/'train.txt').stat().st_mtime_ns
    train.resolve_data(train.preset_config('synapse-demo'))   # second use: nothing rewritten
    assert (root/'lists_Synapse'/'train.txt').stat().st_mtime_ns == stamp
