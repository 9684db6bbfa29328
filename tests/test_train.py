"Training runs: kill a tiny run mid-training, resume it, and get the history of an uninterrupted run; --amp on a CPU."
import json, subprocess, sys, textwrap
import pandas as pd, pytest, torch
from conftest import run_tool, kill_after

RUN = textwrap.dedent('''
    import sys
    from pathlib import Path
    from mcsc_fastai.learner import tiny_config
    from mcsc_fastai.train import train_run
    phantom, out, resume = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == 'resume'
    cfg = tiny_config('mcsc', data=str(phantom), iters=8, eval_every=2)
    train_run(cfg, out, resume=resume, show_progress=False)
''')

def _train(phantom, out, resume=False, **kw):
    return subprocess.Popen([sys.executable, '-c', RUN, str(phantom), str(out), 'resume' if resume else 'new'], **kw)

def test_kill_and_resume_gives_the_same_history(phantom, tmp_path):
    full, killed = tmp_path/'full', tmp_path/'killed'
    assert _train(phantom, full).wait(timeout=600) == 0
    done_before = kill_after(_train(phantom, killed), killed)
    assert 2 <= done_before < 4
    assert torch.serialization.get_unsafe_globals_in_checkpoint(killed/'latest.pth') == []   # loads with weights_only=True
    assert _train(phantom, killed, resume=True).wait(timeout=600) == 0
    a, b = pd.read_csv(full/'history.csv'), pd.read_csv(killed/'history.csv')
    assert a.iteration.tolist() == [2, 4, 6, 8]
    a, b = a.drop(columns="elapsed"), b.drop(columns="elapsed")   # wall time differs, the rest must not
    pd.testing.assert_frame_equal(a, b, rtol=1e-5, atol=1e-6)

def test_cli_rejects_an_unknown_method(tmp_path):
    res = run_tool('mcsc-train', '--method', 'fixmatch', '--out', tmp_path/'run')
    assert res.returncode != 0 and 'fixmatch' in res.stderr
    assert not (tmp_path/'run').exists()

@pytest.mark.parametrize('native', [True, False])
def test_amp_on_cpu_trains_and_records_its_precision(phantom, tmp_path, capsys, monkeypatch, native):
    "`--amp` on a CPU: bf16 where it runs bf16 natively, else float32 and one line saying so; config.json holds what ran."
    import mcsc_fastai.learner as learner
    from mcsc_fastai.learner import tiny_config
    from mcsc_fastai.train import train_run
    if native and not learner.cpu_bf16_native(): pytest.skip('this CPU has no native bf16')
    if not native: monkeypatch.setattr(learner, 'cpu_bf16_native', lambda: False)
    out = tmp_path/'run'
    train_run(tiny_config('mcsc', data=str(phantom), iters=2, eval_every=2, amp=True), out, show_progress=False)
    assert pd.read_csv(out/'history.csv').iteration.tolist() == [2]
    assert json.loads((out/'config.json').read_text())['precision'] == ('bf16' if native else 'fp32')
    said = capsys.readouterr().err
    assert ('no native bfloat16' in said) == (not native), said
