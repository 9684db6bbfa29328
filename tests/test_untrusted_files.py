"""Run folders and scans from elsewhere are data, not code: a checkpoint whose pickle would run a command is refused
before anything is unpickled, one of another model is refused with its first mismatches, a run folder of an earlier
version needs `--trust-checkpoint`, and a volume whose header declares more than a slice stack plausibly holds, or
more than the memory available, is refused from its header. Each fault is one line and exit status 2."""
import json, os, shutil, subprocess, sys, textwrap, time
from pathlib import Path
import h5py, numpy as np, pandas as pd, pytest, torch
from conftest import one_line, tiny_mcsc_run, run_tool
from mcsc_fastai.learner import tiny_config
from mcsc_fastai.train import train_run, load_checkpoint, _numpy_state

TESTS = Path(__file__).resolve().parent
HUGE_SHAPE = (20000, 512, 512)    # the volume: 21 GB of float32, a few kB compressed
BIG_SHAPE = (256, 1024, 1024)     # within the slice and pixel limits, 1.07 GB of float32: more than HEADROOM
HEADROOM = 512 * 2**20            # address space left to the process that reads them (bytes)
FAST_S = 1.0                      # "well under a second": a refusal from the header takes milliseconds

@pytest.fixture(scope='module')
def finished_run(phantom, tmp_path_factory):
    "A tiny MCSC run of 2 validations: latest.pth at iteration 4, latest.prev.pth at 2."
    return tiny_mcsc_run(phantom, tmp_path_factory, 2)

@pytest.fixture
def run_copy(finished_run, tmp_path): return Path(shutil.copytree(finished_run, tmp_path/'run'))

def val_volume(phantom) -> Path: return phantom/'data'/f"{(phantom/'val.list').read_text().split()[0]}.h5"

def read_commands(run:Path, phantom:Path, tmp:Path) -> dict:
    "The command lines of every console script that reads a run folder's checkpoints."
    return {'mcsc-predict': [val_volume(phantom), '--run', run, '--out', tmp/'pred'],
            'mcsc-eval': ['--run', run],
            'mcsc-umap': ['--run', run, '--method', 'pca', '--n-slices', 2, '--n-per-class', 10],
            'mcsc-train': ['--resume', '--out', run]}

# Checkpoints that carry code

class Payload:
    "An object whose unpickling runs a shell command that creates `marker`."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))

@pytest.mark.parametrize('tool', ['mcsc-predict', 'mcsc-eval', 'mcsc-umap', 'mcsc-train'])
def test_a_checkpoint_that_carries_code_runs_nothing(tool, run_copy, phantom, tmp_path):
    marker = tmp_path/'ran'
    for name in ('best_cnn.pth', 'best_swin.pth', 'latest.pth', 'latest.prev.pth'):   # every checkpoint of the folder
        torch.save({**load_checkpoint(run_copy/name), 'payload': Payload(marker)}, run_copy/name)
    read = 'latest.pth' if tool == 'mcsc-train' else 'best_cnn.pth'
    line = one_line(run_tool(tool, *read_commands(run_copy, phantom, tmp_path)[tool]))
    assert line == (f"{tool}: error: {run_copy/read}: holds pickled Python objects (posix.system) that loading would create by "
                    f"running code, so it was not loaded; earlier versions of mcsc_fastai wrote such run folders: if you made "
                    f"this file yourself, rerun with --trust-checkpoint"), line
    assert not marker.exists()
    torch.load(run_copy/read, weights_only=False)          # the payload is live: an unsafe load would have run it
    assert marker.exists()

# Checkpoints of another shape

def test_a_checkpoint_of_another_shape_is_one_line(run_copy, phantom, tmp_path):
    "best_cnn.pth of a U-Net of other widths: the predictor, the evaluation and the embeddings name the file and the first mismatches."
    other = torch.nn.Conv2d(1, 8, 3)
    sd = load_checkpoint(run_copy/'best_cnn.pth')
    key = next(k for k in sd if k.endswith('.weight') and sd[k].ndim == 4)
    sd[key] = torch.zeros(3, *sd[key].shape[1:]); sd['extra.weight'] = other.weight.detach(); del sd[list(sd)[-2]]
    torch.save(sd, run_copy/'best_cnn.pth')
    for tool in ('mcsc-predict', 'mcsc-eval', 'mcsc-umap'):
        line = one_line(run_tool(tool, *read_commands(run_copy, phantom, tmp_path)[tool]))
        assert line.startswith(f"{tool}: error: {run_copy/'best_cnn.pth'}: not a checkpoint of this run's model: 1 of the model's "
                               f"tensors missing (") and '1 key the model does not have (extra.weight)' in line \
               and f"1 of another shape ({key} (3, " in line, line

def test_resume_from_the_state_of_another_run_is_one_line(run_copy, phantom, tmp_path):
    "latest.pth of a run of another method (one network): --resume names the file and what does not fit; nothing changes."
    other = tmp_path/'other'
    train_run(tiny_config('unet-ls', data=str(phantom), iters=2, eval_every=2), other, show_progress=False)
    shutil.copy(other/'latest.pth', run_copy/'latest.pth'); (run_copy/'latest.prev.pth').unlink()
    before = {p.name: p.read_bytes() for p in run_copy.iterdir()}
    line = one_line(run_tool('mcsc-train', '--resume', '--out', run_copy))
    assert line.startswith(f"mcsc-train: error: {run_copy/'latest.pth'}: not a checkpoint of this run's model: ") \
           and "of the model's tensors missing (nets.swin." in line, line
    assert {p.name: p.read_bytes() for p in run_copy.iterdir()} == before

# Run folders of earlier versions

def as_earlier_versions(st:dict) -> dict:
    "A latest.pth's contents as earlier versions saved them: NumPy's state tuple, the loader's queues and the learning rates as NumPy values."
    dl, opt = st['rng']['dl'], st['opt']
    opt = opt | dict(param_groups=[g | dict(lr=np.float64(g['lr'])) for g in opt['param_groups']])
    rng = st['rng'] | dict(numpy=_numpy_state(st['rng']['numpy']), dl=dl | {k: dl[k].numpy().copy() for k in ('labelled', 'unlabelled')})
    return st | dict(opt=opt, rng=rng)

def test_a_run_folder_of_an_earlier_version_resumes_only_when_trusted(run_copy, finished_run):
    "Stopped at iteration 2 by an earlier version: refused in one line; with --trust-checkpoint it continues bit for bit."
    torch.save(as_earlier_versions(load_checkpoint(run_copy/'latest.prev.pth')), run_copy/'latest.pth')
    (run_copy/'latest.prev.pth').unlink()
    pd.read_csv(run_copy/'history.csv').iloc[:1].to_csv(run_copy/'history.csv', index=False)
    before = {p.name: p.read_bytes() for p in run_copy.iterdir()}
    line = one_line(run_tool('mcsc-train', '--resume', '--out', run_copy))
    assert line.startswith(f"mcsc-train: error: {run_copy/'latest.pth'}: holds pickled Python objects (numpy.") \
           and line.endswith('if you made this file yourself, rerun with --trust-checkpoint'), line
    assert {p.name: p.read_bytes() for p in run_copy.iterdir()} == before          # nothing changed
    res = run_tool('mcsc-train', '--resume', '--trust-checkpoint', '--out', run_copy)
    assert res.returncode == 0, res.stderr[-3000:]
    drop = lambda run: pd.read_csv(run/'history.csv').drop(columns='elapsed')
    pd.testing.assert_frame_equal(drop(run_copy), drop(finished_run), rtol=1e-5, atol=1e-6)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(run_copy/'latest.pth') == []   # this version's from now on

# Volumes too large to read

def write_declared(path:Path, shape:tuple, label:bool=False) -> Path:
    "A gzip-compressed h5 file whose `image` (and `label`) declare `shape`, almost nothing written."
    with h5py.File(path, 'w') as f:
        for k in ('image', 'label') if label else ('image',):
            f.create_dataset(k, shape=shape, dtype='float32' if k == 'image' else 'uint8', chunks=(1, *shape[1:]), compression='gzip')
    return path

def write_declared_nifti(path:Path, shape:tuple) -> Path:
    "A .nii.gz file: a header declaring `shape` float32, and no voxels."
    import gzip, nibabel as nib
    hdr = nib.Nifti1Header(); hdr.set_data_shape(shape); hdr.set_data_dtype(np.float32)
    path.write_bytes(gzip.compress(hdr.binaryblock + bytes(4)))
    return path

LIMITED = textwrap.dedent('''
    "Run console scripts in a process whose address space allows only HEADROOM bytes more; print what each gave, as JSON."
    import json, resource, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from conftest import run_tool
    import mcsc_fastai.predict, mcsc_fastai.data, numpy as np      # imported before the limit
    headroom, commands = int(sys.argv[2]), json.loads(sys.argv[3])
    used = next(int(l.split()[1]) * 1024 for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmSize:'))
    resource.setrlimit(resource.RLIMIT_AS, (used + headroom, resource.getrlimit(resource.RLIMIT_AS)[1]))
    out = []
    for cmd in commands:
        t0 = time.time(); res = run_tool(*cmd); out.append(dict(code=res.returncode, stderr=res.stderr, seconds=time.time() - t0))
    try: np.ones((256, 1024, 1024), np.float32); allocated = True   # the limit is real: the whole array does not fit
    except MemoryError: allocated = False
    print(json.dumps(dict(results=out, allocated=allocated)))
''')

@pytest.mark.skipif(not Path('/proc/self/status').exists(), reason='reads VmSize from /proc to set the address-space limit')
def test_volumes_too_large_to_read_under_a_memory_limit(finished_run, tmp_path):
    "mcsc-predict under an address-space limit: a declared-huge h5 and NIfTI (slice limit), a plausible one that does not fit (memory)."
    huge, big = write_declared(tmp_path/'huge.h5', HUGE_SHAPE), write_declared(tmp_path/'big.h5', BIG_SHAPE)
    nii = write_declared_nifti(tmp_path/'huge.nii.gz', HUGE_SHAPE[::-1])
    assert max(p.stat().st_size for p in (huge, big, nii)) < 10_000
    commands = [['mcsc-predict', str(p), '--run', str(finished_run), '--out', str(tmp_path/'pred')] for p in (huge, nii, big)]
    proc = subprocess.run([sys.executable, '-c', LIMITED, str(TESTS), str(HEADROOM), json.dumps(commands)],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not got['allocated']                                                   # the whole array would exceed the limit
    lines = []
    for r in got['results']:
        assert r['code'] == 2 and len(r['stderr'].strip().splitlines()) == 1 and r['seconds'] < FAST_S, r
        lines.append(r['stderr'].strip())
    assert lines[0] == (f"mcsc-predict: error: {huge}: array 'image' declares shape (20000, 512, 512) float32, 21.0 GB once read: "
                        f"20000 slices, more than the 1024 a volume may have (MCSC_MAX_SLICES raises the limit)"), lines[0]
    assert lines[1] == (f"mcsc-predict: error: {nii}: the header declares shape (512, 512, 20000) float32, 21.0 GB once read: "
                        f"20000 slices, more than the 1024 a volume may have (MCSC_MAX_SLICES raises the limit)"), lines[1]
    assert lines[2].startswith(f"mcsc-predict: error: {big}: array 'image' declares shape (256, 1024, 1024) float32, 1.1 GB once "
                               f"read: more than the ") and lines[2].endswith(' MB of memory available'), lines[2]
    assert not (tmp_path/'pred').exists()

def test_the_slice_limit_can_be_raised(finished_run, tmp_path, monkeypatch):
    "MCSC_MAX_SLICES above the volume's slices: the header passes, and the memory check (made small here) decides."
    huge = write_declared(tmp_path/'huge.h5', HUGE_SHAPE)
    monkeypatch.setenv('MCSC_MAX_SLICES', '30000')
    monkeypatch.setattr('mcsc_fastai.nifti.available_memory', lambda: 10**9)
    line = one_line(run_tool('mcsc-predict', huge, '--run', finished_run, '--out', tmp_path/'pred'))
    assert line.endswith('21.0 GB once read: more than the 1.0 GB of memory available'), line

def declared_huge_dataset(phantom:Path, dest:Path) -> tuple:
    "A copy of the phantom with one training slice and one validation volume replaced by files that declare huge arrays."
    data = Path(shutil.copytree(phantom, dest))
    slice_name = (data/'train_slices.list').read_text().split()[-1]
    vol_name = (data/'val.list').read_text().split()[0]
    return data, write_declared(data/'data'/'slices'/f'{slice_name}.h5', (50000, 50000), label=True), \
           write_declared(data/'data'/f'{vol_name}.h5', HUGE_SHAPE, label=True)

def test_the_dataset_check_and_the_training_loaders_size_first(phantom, tmp_path):
    data, bad_slice, bad_vol = declared_huge_dataset(phantom, tmp_path/'data')
    t0 = time.time(); res = run_tool('mcsc-data', 'check', data)
    assert res.returncode == 1 and time.time() - t0 < 10 * FAST_S, res
    problems = [l for l in res.stderr.splitlines() if l.startswith('  problem: ')]
    assert problems == [f"  problem: {bad_slice}: array 'image' declares shape (50000, 50000) float32, 10.0 GB once read: slices "
                        f"of 2500000000 pixels, more than the 1048576 a slice may have (MCSC_MAX_SLICE_PIXELS raises the limit)",
                        f"  problem: {bad_vol}: array 'image' declares shape (20000, 512, 512) float32, 21.0 GB once read: 20000 "
                        f"slices, more than the 1024 a volume may have (MCSC_MAX_SLICES raises the limit)"], res.stderr
    out = tmp_path/'run'
    line = one_line(run_tool('mcsc-train', '--data', data, '--labelled', 2, '--iters', 2, '--out', out))
    assert line.startswith(f"mcsc-train: error: {bad_slice}: array 'image' declares shape (50000, 50000)"), line
    assert not (out/'latest.pth').exists()
