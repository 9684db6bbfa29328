"""The switches of the unlabelled path (`perturb`, `pl_threshold`, `aug='strong'`): off, every method trains exactly as
before they existed; bad values are one line and exit 2 before anything trains; a perturbed run killed and resumed
gives the history of an uninterrupted one."""
import json, platform, subprocess, sys, textwrap
from pathlib import Path
import pandas as pd, pytest, torch
from conftest import run_tool, kill_after

STORED = Path(__file__).parent/'losses_before_switches.json'

def _cpu() -> str:
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor()

def _losses(phantom, method:str, **overrides) -> list:
    "Training losses of 4 tiny iterations of `method`, one torch thread, as `float.hex` strings."
    from fastai.callback.core import Callback
    from mcsc_fastai.core import set_seed
    from mcsc_fastai.data import mcsc_dls
    from mcsc_fastai.learner import mcsc_learner, tiny_config
    class Trace(Callback):
        def before_fit(self): self.losses = []
        def after_loss(self):
            if self.training: self.losses.append(self.loss.item())
    cfg = tiny_config(method, **overrides)
    set_seed(cfg.seed)
    one_net = method in ('unet-fs', 'unet-ls')
    dls = mcsc_dls(phantom, labelled=None if method == 'unet-fs' else cfg.labelled, bs=cfg.bs,
                   labelled_bs=cfg.bs if one_net else cfg.labelled_bs, size=cfg.size, aug=cfg.aug, num_workers=0,
                   seed=cfg.seed, epoch_len=cfg.eval_every)
    trace = Trace(); learn = mcsc_learner(dls, cfg, cbs=trace)
    with learn.no_bar(), learn.no_logging(): learn.fit_mcsc(cfg.iters)
    return [x.hex() for x in trace.losses]

@pytest.mark.parametrize('method', json.loads(STORED.read_text())['losses'])
def test_switches_off_give_the_losses_of_before(phantom, method):
    "perturb='none' (and no threshold, the default aug) trains every method to the losses the package gave before the switches."
    stored = json.loads(STORED.read_text())
    threads = torch.get_num_threads(); torch.set_num_threads(1)
    try: got = _losses(phantom, method, perturb='none', pl_threshold=None)
    finally: torch.set_num_threads(threads)
    want = stored['losses'][method]
    if (stored['torch'], stored['cpu']) == (torch.__version__, _cpu()): assert got == want   # bit for bit where they were stored
    else: assert [float.fromhex(g) for g in got] == pytest.approx([float.fromhex(w) for w in want], rel=1e-5)

BAD = [(['--methods', 'cps', '--set', 'perturb=mixup'], "perturb='mixup': choose one of ('none', 'strong', 'copypaste')"),
       (['--methods', 'cps', '--set', 'pl_threshold=1.5'], "pl_threshold=1.5: a confidence in [0, 1), or null (off)"),
       (['--methods', 'unet-ls', '--set', 'perturb=strong'], "perturb='strong': unet-ls exchanges no pseudo labels; perturb applies to cps, cts, mcsc, mcsc-legacy, mcsc-cnn"),
       (['--methods', 'cct', '--set', 'pl_threshold=0.9'], "pl_threshold=0.9: cct exchanges no pseudo labels"),
       (['--methods', 'unet-ls', '--set', 'aug=heavy'], "aug='heavy': expected one of")]

@pytest.mark.parametrize('args,message', BAD, ids=['perturb', 'threshold', 'unet-ls', 'cct', 'aug'])
def test_bad_switches_are_one_line_and_exit_2(tmp_path, args, message):
    out = tmp_path/'study'
    res = run_tool('mcsc-compare', '--preset', 'demo', '--seeds', '0', '--labelled', '2', *args, '--out', out, '--quiet')
    assert res.returncode == 2, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('mcsc-compare: error: ') and message in lines[0], res.stderr
    assert not (out/'records').exists()

RUN = textwrap.dedent('''
    import sys
    from pathlib import Path
    from mcsc_fastai.learner import tiny_config
    from mcsc_fastai.train import train_run
    phantom, out, resume = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == 'resume'
    cfg = tiny_config('cps', data=str(phantom), iters=8, eval_every=2, perturb='strong', pl_threshold=0.5)
    train_run(cfg, out, resume=resume, show_progress=False)
''')

def _train(phantom, out, resume=False):
    return subprocess.Popen([sys.executable, '-c', RUN, str(phantom), str(out), 'resume' if resume else 'new'])

def test_a_perturbed_run_resumes_to_the_same_history(phantom, tmp_path):
    "The perturbation of an iteration is a function of the seed and the iteration: a killed and resumed run replays it."
    full, killed = tmp_path/'full', tmp_path/'killed'
    assert _train(phantom, full).wait(timeout=600) == 0
    assert 2 <= kill_after(_train(phantom, killed), killed) < 4
    assert _train(phantom, killed, resume=True).wait(timeout=600) == 0
    a, b = (pd.read_csv(p/'history.csv').drop(columns='elapsed') for p in (full, killed))
    assert a.iteration.tolist() == [2, 4, 6, 8]
    pd.testing.assert_frame_equal(a, b, rtol=1e-5, atol=1e-6)
