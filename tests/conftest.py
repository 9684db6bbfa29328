"Shared test helpers: console scripts run in this process (the package is imported once per test process), one phantom per process."
import contextlib, io, os, sys
import pytest
from importlib.metadata import entry_points
from typing import NamedTuple
from fastcore.script import parse_cli

class ToolResult(NamedTuple):
    "What a console script gave: exit status and its two output streams."
    returncode:int
    stdout:str
    stderr:str

EXTRA_POSITIONAL = {'mcsc-data': ['out']}   # `@call_parse(pos=...)` of a script: options also given by position

def run_tool(tool:str, *args, cwd=None) -> ToolResult:
    "Run console script `tool` with `args` in this process, its command line parsed as the installed script parses it."
    fn = next(e for e in entry_points(group='console_scripts') if e.name == tool).load()
    out, err, code, argv = io.StringIO(), io.StringIO(), 0, sys.argv
    with contextlib.chdir(cwd or os.getcwd()), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            sys.argv = [tool, *map(str, args)]
            pargs, kwargs, _ = parse_cli(fn.__wrapped__, pos=EXTRA_POSITIONAL.get(tool))
            fn(*pargs, **kwargs)
        except SystemExit as e: code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally: sys.argv = argv
    return ToolResult(code, out.getvalue(), err.getvalue())

@pytest.fixture(scope='session')
def phantom(tmp_path_factory):
    "A small synthetic cardiac dataset (6 patients, seed 0), written once per test process and only read by the tests."
    from mcsc_fastai.synthetic import make_synthetic_acdc
    return make_synthetic_acdc(tmp_path_factory.mktemp('data')/'phantom', n_patients=6, seed=0)

def one_line(res:ToolResult, status:int=2) -> str:
    "The single stderr line of a console script that exited with `status`, no traceback."
    assert res.returncode == status, (res.returncode, res.stderr[-3000:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in res.stderr, res.stderr[-3000:]
    return lines[0]

def history_rows(run) -> int:
    "Validations written so far to a run folder's history.csv (0 before the first)."
    import pandas as pd
    from pathlib import Path
    p = Path(run)/'history.csv'
    return len(pd.read_csv(p)) if p.exists() else 0

def kill_after(proc, run, rows:int=2, timeout:float=600) -> int:
    "SIGKILL the training process `proc` once its run folder holds `rows` validations (it must still be running); returns the rows written."
    import signal, time
    deadline = time.time() + timeout
    while history_rows(run) < rows and proc.poll() is None and time.time() < deadline: time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL); proc.wait()
    return history_rows(run)

def tiny_mcsc_run(phantom, tmp_path_factory, validations:int):
    "A finished tiny MCSC run of `validations` validations (one every 2 iterations): latest.pth at the last, latest.prev.pth at the one before."
    from mcsc_fastai.learner import tiny_config
    from mcsc_fastai.train import train_run
    out = tmp_path_factory.mktemp('runs')/'mcsc'
    train_run(tiny_config('mcsc', data=str(phantom), iters=2 * validations, eval_every=2), out, show_progress=False)
    return out
