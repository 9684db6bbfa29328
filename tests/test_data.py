"Data layer: the `mcsc-data` CLI, bad-input errors, the Synapse layout, the two-stream loaders, real ACDC checks."
import json, shutil
from functools import partial
from pathlib import Path
import h5py, numpy as np, pytest, torch
from mcsc_fastai.core import DataError, data_root
from mcsc_fastai.synthetic import make_synthetic_acdc
from conftest import run_tool
from mcsc_fastai.data import ACDCLayout, SynapseLayout, open_dataset, mcsc_dls, mcsc_data, run_check, IGNORE_LABEL

ACDC = data_root('ACDC')
needs_acdc = pytest.mark.skipif(ACDC is None, reason='real ACDC data not available (set MCSC_DATA)')
JSON_KEYS = {'layout', 'n_classes', 'n_train_slices', 'n_labelled_slices', 'n_labelled_patients', 'n_val_volumes', 'n_test_volumes'}

cli = partial(run_tool, 'mcsc-data')   # in this process; the script itself runs in a fresh process in test_cli

@pytest.fixture(scope='module')
def syn(tmp_path_factory):
    "A small synthetic ACDC dataset: 6 patients = 4 train, 1 val, 1 test."
    return make_synthetic_acdc(tmp_path_factory.mktemp('data')/'syn', n_patients=6, seed=0)

@pytest.fixture
def broken(syn, tmp_path):
    "A fresh copy of the synthetic dataset to damage."
    return Path(shutil.copytree(syn, tmp_path/'broken'))

def first_slice(root): return root/'data'/'slices'/f"{(root/'train_slices.list').read_text().split()[0]}.h5"

# --- the CLI

def test_cli_synth_and_check_json(tmp_path):
    res = cli('synth', tmp_path/'s', '--patients', 4, '--seed', 3)
    assert res.returncode == 0, res.stderr
    res = cli('check', tmp_path/'s', '--labelled', 1, '--json')
    assert res.returncode == 0, res.stderr
    s = json.loads(res.stdout)
    assert JSON_KEYS <= set(s) and s['layout'] == 'acdc' and s['n_classes'] == 4 and s['problems'] == []
    assert s['n_labelled_patients'] == 1 and s['n_val_volumes'] == 2 and s['n_test_volumes'] == 2
    assert s['n_train_slices'] == len((tmp_path/'s'/'train_slices.list').read_text().split())

def test_cli_bad_dataset_exits_nonzero(broken):
    f = first_slice(broken); f.unlink()
    res = cli('check', broken)
    assert res.returncode != 0 and f.name in res.stderr and 'missing' in res.stderr

def test_cli_in_process_errors(tmp_path, capsys):
    for args in (('check', str(tmp_path/'nowhere')), ('frobnicate', str(tmp_path))):
        with pytest.raises(SystemExit) as ex: mcsc_data(*args)
        assert ex.value.code != 0
    assert 'does not exist' in capsys.readouterr().err

# --- every kind of bad input: a DataError naming the file and the problem, and a non-zero CLI exit

def corrupt_h5(path, fn):
    with h5py.File(path, 'a') as f: fn(f)

def _missing_key(f): del f['label']
def _bad_label(f): f['label'][0, 0] = 9
def _shape(f):
    lab = f['label'][()]; del f['label']; f.create_dataset('label', data=lab[:-1])
def _nan(f): f['image'][0, 0] = np.nan
def _inf(f): f['image'][1, 1] = np.inf

@pytest.mark.parametrize('damage, problem', [(_missing_key, "missing key 'label'"), (_bad_label, 'label values [9] outside'),
                                             (_shape, '!= label shape'), (_nan, 'NaN/inf'), (_inf, 'NaN/inf')])
def test_bad_slice_file(broken, damage, problem):
    f = first_slice(broken); corrupt_h5(f, damage)
    lay = ACDCLayout(broken)
    with pytest.raises(DataError, match=None) as e: lay.read_slice(f.stem)
    assert str(f) in str(e.value) and problem in str(e.value)
    with pytest.raises(DataError) as e: lay.check()
    assert f.name in str(e.value) and problem in str(e.value)
    with pytest.raises(SystemExit) as ex: mcsc_data('check', str(broken))
    assert ex.value.code != 0

def test_bad_volume_file(broken):
    name = (broken/'val.list').read_text().split()[0]
    corrupt_h5(broken/'data'/f'{name}.h5', _nan)
    with pytest.raises(DataError, match=f'{name}.h5: image holds [0-9]+ NaN/inf values'): ACDCLayout(broken).read_volume(name)
    assert run_check(str(broken)) == 1

def test_listed_file_missing(broken):
    f = first_slice(broken); f.unlink()
    with pytest.raises(DataError, match=r'listed in .*train_slices.list but missing'): ACDCLayout(broken).read_slice(f.stem)
    with pytest.raises(DataError, match=f.name): ACDCLayout(broken).check()
    assert run_check(str(broken)) == 1

@pytest.mark.parametrize('listname', ['train_slices.list', 'val.list'])
def test_missing_list_file(broken, listname):
    (broken/listname).unlink()
    with pytest.raises(DataError, match=f'{listname}: list file is missing'): ACDCLayout(broken)
    assert run_check(str(broken)) == 1

def test_missing_folders(broken, tmp_path):
    with pytest.raises(DataError, match='dataset folder does not exist'): open_dataset(tmp_path/'nowhere')
    with pytest.raises(DataError, match='not a dataset folder'): open_dataset(tmp_path)
    shutil.rmtree(broken/'data')
    with pytest.raises(DataError, match='data: data folder is missing'): ACDCLayout(broken)
    assert run_check(str(tmp_path/'nowhere')) == 1

def test_test_list_optional(broken):
    (broken/'test.list').unlink()
    s = ACDCLayout(broken).check()
    assert s['n_test_volumes'] == 0 and s['problems'] == []

@pytest.mark.parametrize('kw, problem', [(dict(labelled=0), 'labelled subset of 0 patients'),
                                         (dict(labelled=5), 'must be 1..4'),
                                         (dict(labelled_slices=0), 'labelled subset of 0 slices'),
                                         (dict(labelled_slices=10**5), 'labelled subset of 100000 slices')])
def test_bad_labelled_subset(syn, kw, problem):
    lay = ACDCLayout(syn)
    with pytest.raises(DataError, match='train_slices.list') as e:
        lay.n_labelled(patients=kw.get('labelled'), slices=kw.get('labelled_slices'))
    assert problem in str(e.value)
    with pytest.raises(DataError, match=problem): mcsc_dls(syn, **kw, size=32, num_workers=0)
    assert run_check(str(syn), kw.get('labelled'), kw.get('labelled_slices')) == 1

def test_no_unlabelled_pool(syn):
    with pytest.raises(DataError, match='no unlabelled slices'): mcsc_dls(syn, labelled=None, size=32, num_workers=0)
    dls = mcsc_dls(syn, labelled=None, bs=2, labelled_bs=2, size=32, num_workers=0, device='cpu')  # fully supervised
    assert dls.one_batch()[2].all()

def test_slices_directly_under_data(broken):
    for f in (broken/'data'/'slices').glob('*.h5'): f.rename(broken/'data'/f.name)
    (broken/'data'/'slices').rmdir()
    lay = ACDCLayout(broken)
    assert lay.slice_dir == broken/'data' and lay.check()['problems'] == []

# --- Synapse (TransUNet layout), files written here in that exact format

@pytest.fixture
def synapse(tmp_path):
    root, rng = tmp_path/'Synapse', np.random.default_rng(0)
    for d in ('train_npz', 'test_vol_h5', 'lists_Synapse'): (root/d).mkdir(parents=True)
    names = [f'case{c:04d}_slice{k:03d}' for c in (31, 7, 9, 5) for k in range(3)]
    for n in names:
        np.savez(root/'train_npz'/f'{n}.npz', image=rng.random((24, 24)).astype(np.float32), label=rng.integers(0, 9, (24, 24)).astype(np.float32))
    for case in ('case0008', 'case0022'):
        with h5py.File(root/'test_vol_h5'/f'{case}.npy.h5', 'w') as f:
            f['image'] = rng.random((4, 24, 24)).astype(np.float32); f['label'] = rng.integers(0, 9, (4, 24, 24)).astype(np.float32)
    (root/'lists_Synapse'/'train.txt').write_text('\n'.join(names) + '\n')
    (root/'lists_Synapse'/'test_vol.txt').write_text('case0008\ncase0022\n')
    return root

def test_synapse_layout(synapse):
    lay = open_dataset(synapse, n_val_cases=1)
    assert isinstance(lay, SynapseLayout) and lay.n_classes == 9 and lay.classes[5] == 'liver'
    assert lay.val_names == ['case0005'] and len(lay.train_names) == 9 and lay.test_names == ['case0008', 'case0022']
    assert lay.n_labelled(patients=2) == 6
    assert lay.read_volume('case0005').image.shape == (3, 24, 24) and lay.read_volume('case0022').label.dtype == np.uint8
    s = lay.check(labelled=1)
    assert (s['layout'], s['n_train_slices'], s['n_labelled_slices'], s['n_val_volumes'], s['n_test_volumes']) == ('synapse', 9, 3, 1, 2)
    dls = mcsc_dls(synapse, labelled=1, size=32, num_workers=0, device='cpu', n_val_cases=1)
    x, y, m = dls.one_batch()
    assert x.shape == (4, 1, 32, 32) and m.tolist() == [True, True, False, False] and y[:2].max() <= 8
    assert dls.n_classes == 9 and len(dls.valid_volumes) == 1
    assert run_check(str(synapse), labelled=2, as_json=True) == 0

def test_synapse_errors(synapse):
    np.savez(synapse/'train_npz'/'case0031_slice000.npz', image=np.zeros((24, 24), np.float32))
    with pytest.raises(DataError, match="case0031_slice000.npz: missing key 'label'"): SynapseLayout(synapse).read_slice('case0031_slice000')
    (synapse/'lists_Synapse'/'train.txt').unlink()
    with pytest.raises(DataError, match='train.txt: list file is missing'): SynapseLayout(synapse)

# --- the two-stream loaders

def test_two_stream_batch_at_224(syn):
    dls = mcsc_dls(syn, labelled=1, bs=4, labelled_bs=2, size=224, num_workers=0, device='cpu', seed=0)
    x, y, m = dls.one_batch()
    assert x.shape == (4, 1, 224, 224) and x.dtype == torch.float32 and y.shape == (4, 224, 224) and y.dtype == torch.int64
    assert m.tolist() == [True, True, False, False] and (y[2:] == IGNORE_LABEL).all() and (y[:2] >= 0).all()
    assert len(dls.train) == dls.layout.n_labelled(patients=1)//2 and dls.n_inp == 1
    fig = dls.show_batch()
    assert [a.get_title() for a in fig.axes] == ['labelled']*2 + ['unlabelled (no label)']*2

def test_unlabelled_labels_never_read(syn, tmp_path):
    "Scrambling the unlabelled slices' labels on disk gives identical training batches."
    def batches(root): return list(mcsc_dls(root, labelled=2, size=48, num_workers=0, device='cpu', seed=5, cache=False).train)
    scr = Path(shutil.copytree(syn, tmp_path/'scr'))
    lay = ACDCLayout(scr); K = lay.n_labelled(patients=2)
    before = batches(syn)
    for n in lay.train_names[K:]: corrupt_h5(scr/'data'/'slices'/f'{n}.h5', lambda f: f['label'].__setitem__(Ellipsis, 7))
    after = batches(scr)
    assert len(before) == len(after) > 0
    for b0, b1 in zip(before, after):
        for t0, t1 in zip(b0, b1): assert torch.equal(t0, t1)

# --- the real ACDC data

@needs_acdc
def test_real_acdc_cli_check():
    res = cli('check', ACDC, '--labelled', 7, '--json')
    assert res.returncode == 0, res.stderr
    s = json.loads(res.stdout)
    assert (s['layout'], s['n_classes'], s['n_train_slices'], s['n_val_volumes'], s['n_test_volumes']) == ('acdc', 4, 1312, 20, 40)
    assert (s['n_labelled_slices'], s['n_labelled_patients'], s['problems'], s['checked']) == (136, 7, [], 'all')

BENCHMARK_FIRST_SIX = ['patient099', 'patient038', 'patient050', 'patient100', 'patient058', 'patient021']  # train_slices.list order

@needs_acdc
def test_real_acdc_subset_1_labels_the_next_three_patients():
    res = cli('check', ACDC, '--labelled', 3, '--subset', 1, '--quick')
    assert res.returncode == 0, res.stderr
    n = sum(n.split('_')[0] in BENCHMARK_FIRST_SIX[3:] for n in ACDCLayout(ACDC).train_names)   # 54: fewer slices than the first three's 68
    assert f'labelled (subset 1): {n} slices of 3 patients: patient100, patient058, patient021' in res.stdout, res.stdout
    pool = mcsc_dls(ACDC, labelled=3, subset=1, size=32, num_workers=0, device='cpu', cache=False).train.dataset
    patient = lambda n: n.split('_')[0]
    labelled, unlabelled = pool.names[:pool.n_labelled], pool.names[pool.n_labelled:]
    assert list(dict.fromkeys(map(patient, labelled))) == BENCHMARK_FIRST_SIX[3:]
    assert set(map(patient, unlabelled)).isdisjoint(BENCHMARK_FIRST_SIX[3:]) and set(BENCHMARK_FIRST_SIX[:3]) <= set(map(patient, unlabelled))
    assert sorted(pool.names) == sorted(ACDCLayout(ACDC).train_names)          # nothing dropped, nothing added
    # every labelled slice of patients 4-6, and only those
    assert labelled == [n for n in ACDCLayout(ACDC).train_names if patient(n) in BENCHMARK_FIRST_SIX[3:]]

@needs_acdc
def test_real_acdc_subset_past_the_list_is_one_line():
    res = run_tool('mcsc-train', '--preset', 'acdc-12k', '--method', 'unet-ls', '--subset', 23, '--out', 'nowhere-run')
    assert res.returncode == 2 and not Path('nowhere-run').exists()
    assert res.stderr.splitlines() == [f"mcsc-train: error: {ACDC/'train_slices.list'}: labelled subset 23 of 3 patients: "
                                       "the list holds 70 patients, so subsets 0..22"], res.stderr

@needs_acdc
def test_real_acdc_labelled_counts():
    lay = ACDCLayout(ACDC)
    assert [lay.n_labelled(patients=p) for p in (1, 3, 7, 14, 21, 28, 35, 70)] == [32, 68, 136, 256, 396, 512, 664, 1312]
    assert lay.check(labelled=3, quick=True)['n_labelled_slices'] == 68
    assert lay.check(labelled_slices=23, quick=True)['n_labelled_patients'] == 1

@needs_acdc
def test_real_acdc_loaders():
    dls = mcsc_dls(ACDC, labelled=7, bs=4, labelled_bs=2, size=224, num_workers=0, device='cpu', seed=0, cache=False)
    x, y, m = dls.one_batch()
    assert x.shape == (4, 1, 224, 224) and m.tolist() == [True, True, False, False] and len(dls.train) == 68
    assert len(dls.valid_volumes) == 20 and set(np.unique(dls.valid_volumes[0].label)) == {0, 1, 2, 3}
