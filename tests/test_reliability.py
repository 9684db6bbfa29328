"""Damaged files and full disks: each fault ends in one line, loses nothing, and the work continues where it stopped.

The console scripts run in fresh processes. A full disk is made by an `os.fsync` that fails with ENOSPC, as it
does on a full disk, for the files named by a pattern: installed in the script's process through a
`sitecustomize` module on its PYTHONPATH (Linux: the file behind a descriptor is read from /proc). A process killed
inside a write is made the same way, with SIGKILL instead of the error."""
import json, os, shutil, subprocess, sys, textwrap
from pathlib import Path
import h5py, numpy as np, pandas as pd
import pytest
from mcsc_fastai.nifti import write_tiny_acdc_raw, convert_acdc
from mcsc_fastai.train import train_run, load_checkpoint, load_run_config
from conftest import one_line, tiny_mcsc_run

BIN = Path(sys.executable).parent
CUT_BYTES = 1000          # what is left of a checkpoint cut short
needs_proc = pytest.mark.skipif(not Path('/proc/self/fd').is_dir(), reason='the fault injection reads /proc/self/fd')

FAULT = textwrap.dedent('''
    import os, re, errno, signal
    _real, _pattern, _after, _kill = os.fsync, re.compile(os.environ['FAULT_PATTERN']), int(os.environ['FAULT_AFTER']), 'FAULT_KILL' in os.environ
    _seen = [0]
    def _fsync(fd):
        if _pattern.search(os.readlink(f'/proc/self/fd/{fd}')):
            _seen[0] += 1
            if _seen[0] > _after:
                if _kill: os.kill(os.getpid(), signal.SIGKILL)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return _real(fd)
    os.fsync = _fsync
''')

def run(tool, *args, fault=None, tmp=None):
    "Run a console script in a fresh process; `fault=(pattern, after[, 'kill'])`: the file writes matching `pattern` fail after `after` of them."
    env = dict(os.environ, OMP_NUM_THREADS='1')
    if fault:
        (tmp/'fault').mkdir(exist_ok=True); (tmp/'fault'/'sitecustomize.py').write_text(FAULT)
        path = os.pathsep.join(filter(None, [str(tmp/'fault'), os.environ.get('PYTHONPATH')]))   # the fault first, then the caller's
        env.update(PYTHONPATH=path, FAULT_PATTERN=fault[0], FAULT_AFTER=str(fault[1]))
        if len(fault) > 2: env['FAULT_KILL'] = '1'
    return subprocess.run([str(BIN/tool), *map(str, args)], capture_output=True, text=True, timeout=600, env=env)

def no_temporaries(folder:Path): assert not [p.name for p in folder.rglob('.*') if p.is_file()], list(folder.rglob('.*'))

def history(run:Path) -> pd.DataFrame: return pd.read_csv(run/'history.csv').drop(columns='elapsed')

@pytest.fixture(scope='module')
def finished_run(phantom, tmp_path_factory):
    "A tiny MCSC run of 3 validations: latest.pth at iteration 6, latest.prev.pth at 4."
    return tiny_mcsc_run(phantom, tmp_path_factory, 3)

@pytest.fixture
def run_copy(finished_run, tmp_path):
    return Path(shutil.copytree(finished_run, tmp_path/'run'))

def cut(path:Path, n:int=CUT_BYTES): path.write_bytes(path.read_bytes()[:n])

# Checkpoints: --resume

def test_resume_falls_back_from_a_cut_latest(run_copy, finished_run):
    assert [load_checkpoint(run_copy/f)['it'] for f in ('latest.pth', 'latest.prev.pth')] == [6, 4]
    cut(run_copy/'latest.pth')
    line = one_line(run('mcsc-train', '--resume', '--out', run_copy), 0)
    assert line == (f"mcsc-train: {run_copy}: latest.pth is damaged (cut short or corrupt: File is not a zip file); "
                    f"resuming from latest.prev.pth at iteration 4"), line
    pd.testing.assert_frame_equal(history(run_copy), history(finished_run), rtol=1e-5, atol=1e-6)   # iteration 6 trained again, the same
    assert [load_checkpoint(run_copy/f)['it'] for f in ('latest.pth', 'latest.prev.pth')] == [6, 4]
    assert (run_copy/'metrics.json').exists()

def test_resume_with_no_usable_checkpoint_is_one_line(run_copy):
    cut(run_copy/'latest.pth'); (run_copy/'latest.prev.pth').unlink()
    before = {p.name: p.read_bytes() for p in run_copy.iterdir()}
    line = one_line(run('mcsc-train', '--resume', '--out', run_copy), 2)
    assert line == (f"mcsc-train: error: {run_copy}: nothing to resume from: latest.pth is damaged (cut short or corrupt: "
                    f"File is not a zip file); latest.prev.pth is missing; train the run again without --resume, or restore the file"), line
    assert {p.name: p.read_bytes() for p in run_copy.iterdir()} == before   # nothing changed

@needs_proc
def test_full_disk_at_a_checkpoint_then_resume(run_copy, finished_run, tmp_path):
    "A run stopped after iteration 4 resumes; the disk fills as it writes latest.pth at 6; once space is back it finishes."
    shutil.copy(run_copy/'latest.prev.pth', run_copy/'latest.pth'); (run_copy/'latest.prev.pth').unlink()
    pd.read_csv(run_copy/'history.csv').iloc[:2].to_csv(run_copy/'history.csv', index=False)
    latest = (run_copy/'latest.pth').read_bytes()
    line = one_line(run('mcsc-train', '--resume', '--out', run_copy, fault=(r'/\.latest\.pth\.', 0), tmp=tmp_path), 2)
    assert line.startswith(f"mcsc-train: error: {run_copy/'latest.pth'}: no space left on the device: writing it needs ") \
           and line.endswith(' free; nothing on disk was changed'), line
    assert (run_copy/'latest.pth').read_bytes() == latest and load_checkpoint(run_copy/'latest.pth')['it'] == 4
    no_temporaries(run_copy)
    train_run(load_run_config(run_copy), run_copy, resume=True, show_progress=False)   # space is back: resume (here)
    pd.testing.assert_frame_equal(history(run_copy), history(finished_run), rtol=1e-5, atol=1e-6)

# Checkpoints: best_<net>.pth read by mcsc-eval, mcsc-predict, mcsc-umap (in this process: they only read)

def _tool(tool, run_dir, phantom, tmp_path, monkeypatch):
    "Call console script `tool` in this process, as if started under its name; returns its exit status."
    from mcsc_fastai.train import mcsc_eval
    from mcsc_fastai.predict import mcsc_predict
    from mcsc_fastai.embeddings import mcsc_umap
    monkeypatch.setattr(sys, 'argv', [str(BIN/tool)])
    vol = (phantom/'val.list').read_text().split()[0]
    call = {'mcsc-eval': lambda: mcsc_eval(run=str(run_dir)),
            'mcsc-umap': lambda: mcsc_umap(run=str(run_dir), method='pca', n_slices=2, n_per_class=10),
            'mcsc-predict': lambda: mcsc_predict(str(phantom/'data'/f'{vol}.h5'), run=str(run_dir), out=str(tmp_path/'pred'))}[tool]
    try: call(); return 0
    except SystemExit as e: return e.code

@pytest.mark.parametrize('tool', ['mcsc-eval', 'mcsc-predict', 'mcsc-umap'])
def test_damaged_best(tool, run_copy, phantom, tmp_path, monkeypatch, capsys):
    "A cut best_cnn.pth: the previous best is used, said in one line; without one, one error line and exit status 2."
    shutil.copy(run_copy/'best_cnn.pth', run_copy/'best_cnn.prev.pth'); cut(run_copy/'best_cnn.pth')   # the previous best: known weights
    capsys.readouterr()
    assert _tool(tool, run_copy, phantom, tmp_path, monkeypatch) == 0
    assert capsys.readouterr().err.splitlines() == [f"{tool}: {run_copy}: best_cnn.pth is damaged (cut short or corrupt: File is not a zip "
                                                    f"file); using best_cnn.prev.pth, the cnn network's previous best"]
    (run_copy/'best_cnn.prev.pth').unlink()
    assert _tool(tool, run_copy, phantom, tmp_path, monkeypatch) == 2
    assert capsys.readouterr().err.splitlines() == [f"{tool}: error: {run_copy}: no usable checkpoint of the cnn network: best_cnn.pth is "
                                                    f"damaged (cut short or corrupt: File is not a zip file); best_cnn.prev.pth is missing"]

def test_eval_from_the_previous_best_gives_the_same_metrics(run_copy, finished_run, capsys):
    "The previous best holds the same weights here: the evaluation does not change."
    from mcsc_fastai.train import evaluate_run
    whole = evaluate_run(finished_run, verbose=False)
    shutil.copy(run_copy/'best_cnn.pth', run_copy/'best_cnn.prev.pth'); cut(run_copy/'best_cnn.pth')
    assert evaluate_run(run_copy, verbose=False) == whole

# Studies: records

TINY = ['size=64', 'unet_widths=[4,8,16,32,64]', 'bs=4', 'labelled_bs=4', 'eval_every=2', 'num_workers=0']

def compare(study, phantom, tmp_path, fault=None):
    return run('mcsc-compare', '--preset', 'demo', '--methods', 'unet-ls', '--labelled', 2, '--seeds', '0,1', '--iters', 2,
               '--out', study, '--data', phantom, '--quiet', '--set', *TINY, fault=fault, tmp=tmp_path)

def compare_here(study, phantom, monkeypatch) -> int:
    "`compare`, in this process (as if started as mcsc-compare); returns its exit status."
    from mcsc_fastai.study import mcsc_compare
    monkeypatch.setattr(sys, 'argv', [str(BIN/'mcsc-compare')])
    try: mcsc_compare('demo', 'unet-ls', '2', '0,1', str(study), iters=2, set=TINY, data=str(phantom), quiet=True); return 0
    except SystemExit as e: return e.code

@needs_proc
def test_study_full_disk_at_a_record_then_damaged_records(phantom, tmp_path, capsys, monkeypatch):
    study = tmp_path/'study'
    line = one_line(compare(study, phantom, tmp_path, fault=(r'/records/\.unet-ls-l2-s1\.json\.', 0)), 2)
    record = study/'records'/'unet-ls-l2-s1.json'
    assert line.startswith(f"mcsc-compare: error: {record}: no space left on the device: writing it needs ") and \
           line.endswith(' free; nothing on disk was changed'), line
    assert sorted(p.name for p in (study/'records').iterdir()) == ['unet-ls-l2-s0.json']   # the first run's record intact
    assert compare_here(study, phantom, monkeypatch) == 0      # space is back: the second run is only evaluated again
    events = [json.loads(l) for l in (study/'events.jsonl').read_text().splitlines()]
    assert [(e['run'], e['event']) for e in events][-2:] == [('unet-ls-l2-s1', 'resumed'), ('unet-ls-l2-s1', 'finished')]
    assert '. 2 runs, ' in (study/'summary.md').read_text()
    first = study/'records'/'unet-ls-l2-s0.json'
    cut(first, first.stat().st_size // 2)                      # a copy of the study folder interrupted
    capsys.readouterr(); assert compare_here(study, phantom, monkeypatch) == 0
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith(f"mcsc-compare: {first}: damaged record (not JSON: ") and \
           line.endswith("its run counts as not done and the study trains it again"), line
    assert json.loads(first.read_text())['name'] == 'unet-ls-l2-s0'
    assert pd.read_csv(study/'results.csv').run.value_counts().to_dict() == {'unet-ls-l2-s0': 6, 'unet-ls-l2-s1': 6}  # 3 classes x test, validation
    first.write_text('{"name": "unet-ls-l2-s0", "method": "unet-ls"}')   # a record without its results
    from mcsc_fastai.study import finish_study
    finish_study(study, verbose=False)
    assert f"{first}: damaged record (no labelled, seed, metrics)" in capsys.readouterr().err
    head = (study/'summary.md').read_text()
    assert '. 1 runs of the 2 planned (no record: unet-ls-l2-s0), ' in head, head[:600]
    assert json.loads((study/'summary.json').read_text())[0]['n'] == 1

# Converted data: mcsc-data convert-acdc

@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    return write_tiny_acdc_raw(tmp_path_factory.mktemp('raw')/'training', n_patients=5, n_slices=3, shape=(12, 10))

@pytest.fixture(scope='module')
def converted(raw, tmp_path_factory):
    "What an uninterrupted conversion writes."
    return Path(convert_acdc(raw, tmp_path_factory.mktemp('whole')/'ACDC', seed=0)['out'])

def same_dataset(a:Path, b:Path):
    for f in ('train_slices.list', 'val.list', 'test.list'): assert (a/f).read_text() == (b/f).read_text(), f
    files = sorted(p.relative_to(a) for p in a.rglob('*.h5'))
    assert files == sorted(p.relative_to(b) for p in b.rglob('*.h5'))
    for f in files:
        with h5py.File(a/f) as x, h5py.File(b/f) as y:
            assert np.array_equal(x['image'][:], y['image'][:]) and np.array_equal(x['label'][:], y['label'][:]), f

def check_status(path, monkeypatch, capsys) -> tuple:
    "(exit status, stderr) of `mcsc-data check PATH`, in this process."
    from mcsc_fastai.data import mcsc_data
    monkeypatch.setattr(sys, 'argv', [str(BIN/'mcsc-data')]); capsys.readouterr()
    try: mcsc_data('check', str(path)); status = 0
    except SystemExit as e: status = e.code
    return status, capsys.readouterr().err

@needs_proc
@pytest.mark.parametrize('fault', ['full', 'kill'])
def test_convert_stopped_mid_slice_then_continued(fault, raw, converted, tmp_path, monkeypatch, capsys):
    "The disk fills (or the process is killed) while the 9th slice is written: OUT is no dataset; started again, it finishes."
    out, part = tmp_path/'ACDC', tmp_path/'.ACDC.partial'
    res = run('mcsc-data', 'convert-acdc', raw, out, fault=(r'\.h5\.', 8) + (('kill',) if fault == 'kill' else ()), tmp=tmp_path)
    if fault == 'full':
        line = one_line(res, 2)
        assert line.startswith(f"mcsc-data: error: {part}/data/slices/") and ': no space left on the device: writing it needs ' in line, line
        no_temporaries(part/'data')
    else: assert res.returncode == -9, res.returncode
    assert check_status(out, monkeypatch, capsys) == (1, f"mcsc-data: error: {out}: dataset folder does not exist\n")
    assert check_status(part, monkeypatch, capsys)[0] == 1     # no dataset yet: no list files
    done = sorted(part.glob('.convert/patient*.json'))
    assert len(done) == 1                                   # 6 slices of the first patient, then 2 of the second
    first = {n: (part/'data'/'slices'/f'{n}.h5').stat().st_mtime_ns for n in json.loads(done[0].read_text())['names']}
    from mcsc_fastai.data import mcsc_data                   # started again (in this process, as mcsc-data)
    mcsc_data('convert-acdc', str(raw), str(out))
    assert capsys.readouterr().err == f"mcsc-data: {part}: continuing an interrupted conversion\n"
    assert check_status(out, monkeypatch, capsys)[0] == 0
    assert {n: (out/'data'/'slices'/f'{n}.h5').stat().st_mtime_ns for n in first} == first   # not written again
    same_dataset(out, converted)
    no_temporaries(out); assert not part.exists()

def test_check_rejects_a_slice_cut_short(converted, tmp_path, monkeypatch, capsys):
    "A slice cut short after the conversion (a copy interrupted) is named by `mcsc-data check`."
    data = Path(shutil.copytree(converted, tmp_path/'ACDC'))
    name = (data/'train_slices.list').read_text().split()[0]
    cut(data/'data'/'slices'/f'{name}.h5', 800)
    status, err = check_status(data, monkeypatch, capsys)
    assert status == 1 and f"{name}.h5: cannot be read" in err, err
