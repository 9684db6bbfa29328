"Data-parallel training with two CPU processes (gloo): gradients across ranks, one run folder, resume, a failing rank."
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import pandas as pd

RUN = textwrap.dedent('''
    import os, sys
    from pathlib import Path
    from mcsc_fastai.learner import tiny_config
    from mcsc_fastai.train import train_run
    phantom, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    if mode == 'fail' and os.environ['RANK'] == '1': phantom = phantom.parent/'missing'   # rank 1 alone fails
    cfg = tiny_config('mcsc', data=str(phantom), iters=6, eval_every=2)
    train_run(cfg, out, resume=mode == 'resume', show_progress=False)
''')

def _torchrun(tmp_path, phantom, out, mode, **kw):
    "Two ranks under PyTorch's launcher (`torchrun`)."
    script = tmp_path/'run.py'; script.write_text(RUN)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '2', str(script), str(phantom), str(out), mode]
    return subprocess.Popen(cmd, **kw)

def _processes(pid:int) -> list:
    "`pid` and its descendants (torchrun starts each worker in a session of its own: killing its group is not enough)."
    kids = [int(c) for t in Path(f'/proc/{pid}/task').iterdir() for c in (t/'children').read_text().split()]
    return [pid] + [p for k in kids for p in _processes(k)]

def _rows(out):
    p = out/'history.csv'
    return len(pd.read_csv(p)) if p.exists() else 0

def test_gradients_match_across_ranks(phantom, tmp_path):
    "(a) One DDP step = the mean of each rank's batch gradient computed alone; weights equal on both ranks after 3 steps."
    from mcsc_fastai.distrib import spawn_local, ddp_gradient_check, GRAD_RTOL
    spawn_local(ddp_gradient_check, 2, phantom, tmp_path)
    res = json.loads((tmp_path/'ddp_check.json').read_text())
    assert res['world_size'] == 2 and res['backend'] == 'gloo'
    assert res['grad_rel_diff'] <= GRAD_RTOL, res            # float32 rounding at most (measured: 0, bitwise equal)
    assert res['ranks_rel_diff'] > 1e-2, res                  # the two ranks' batches give different gradients
    assert res['weights_equal'] and res['weights_moved'], res

def test_two_ranks_write_one_run_folder_and_resume(phantom, tmp_path):
    "(b) A 2-rank run killed after its first validation resumes under the launcher into the same, single run folder."
    out = tmp_path/'run'
    proc = _torchrun(tmp_path, phantom, out, 'new', stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not (_rows(out) >= 1 and (out/'latest.pth').exists()) and proc.poll() is None and time.time() < deadline: time.sleep(0.05)
    assert proc.poll() is None, "the run finished (or failed) before it could be killed"
    pids = _processes(proc.pid)
    assert len(pids) >= 3                                            # the launcher and its two ranks
    for pid in pids: os.kill(pid, signal.SIGKILL)                    # as a crash would: no rank gets to clean up
    proc.wait()
    first = pd.read_csv(out/'history.csv')
    assert 1 <= len(first) < 3
    res = _torchrun(tmp_path, phantom, out, 'resume', stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = res.communicate(timeout=600)
    assert res.returncode == 0, stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['run', 'run.py']
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith('.'))   # a kill may leave an atomic write's temporary file
    assert [f for f in files if '.prev.' not in f] == ['best_cnn.pth', 'best_swin.pth', 'config.json', 'history.csv', 'history.png', 'latest.pth']
    assert {f for f in files if '.prev.' in f} <= {'best_cnn.prev.pth', 'best_swin.prev.pth', 'latest.prev.pth'}   # the kept previous checkpoints
    h = pd.read_csv(out/'history.csv')
    assert h.iteration.tolist() == [2, 4, 6]
    same = lambda df: df.drop(columns='elapsed')                    # wall time differs; the rest replays exactly
    pd.testing.assert_frame_equal(same(h.iloc[:len(first)]), same(first), rtol=1e-5, atol=1e-6)
    assert stdout.count('it 6/6') == 1, stderr[-2000:]              # one log line per validation: rank 0's
    dp = json.loads((out/'config.json').read_text())['data_parallel']
    assert (dp['world_size'], dp['bs_per_rank'], dp['global_bs'], dp['global_labelled_bs']) == (2, 4, 8, 4)

def test_failing_rank_stops_the_run(phantom, tmp_path):
    "A rank that fails stops the whole run with its error, promptly (rank 0 waits in a collective meanwhile)."
    proc = _torchrun(tmp_path, phantom, tmp_path/'run', 'fail', stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode != 0
    assert 'missing: dataset folder does not exist' in stderr, stderr[-3000:]
    assert not (tmp_path/'run'/'history.csv').exists()

def test_module_runs_as_mcsc_train(phantom, tmp_path):
    "`python -m mcsc_fastai.train` (what the launchers run) is `mcsc-train`, with its one-line errors."
    res = subprocess.run([sys.executable, '-m', 'mcsc_fastai.train', '--data', str(phantom), '--labelled', '99',
                          '--out', str(tmp_path/'run')], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith('mcsc-train: error: ') and 'labelled subset of 99 patients' in res.stderr
    assert not (tmp_path/'run').exists()
