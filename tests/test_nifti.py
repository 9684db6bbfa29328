"The ACDC converter: small NIfTI patients written here -> `mcsc-data convert-acdc` -> `mcsc-data check` counts; bad input is one line."
import json, shutil, sys
from functools import partial
from pathlib import Path
import numpy as np, pytest
from conftest import run_tool
from mcsc_fastai.data import mcsc_data
from mcsc_fastai.nifti import write_tiny_acdc_raw, _write_frame

cli = partial(run_tool, 'mcsc-data')   # `mcsc-data ARGS`, parsed as the installed script parses it, in this process

@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    "Five patients in the challenge's format: 3 slices of 12 x 10 per frame."
    return write_tiny_acdc_raw(tmp_path_factory.mktemp('raw')/'training', n_patients=5, n_slices=3, shape=(12, 10))

def test_convert_then_check_counts(raw, tmp_path):
    res = cli('convert-acdc', raw.parent, tmp_path/'ACDC')   # the patient folders are found under training/
    assert res.returncode == 0, res.stderr
    assert 'converted 5 patients' in res.stdout
    res = cli('check', tmp_path/'ACDC', '--labelled', 1, '--json')
    assert res.returncode == 0, res.stderr
    s = json.loads(res.stdout)
    assert (s['n_train_slices'], s['n_train_patients'], s['n_val_volumes'], s['n_test_volumes']) == (3*2*3, 3, 2, 2)
    assert (s['n_labelled_slices'], s['n_labelled_patients'], s['n_slice_shapes'], s['problems']) == (6, 1, 1, [])

def test_split_sizes_are_settable(raw, tmp_path, capsys):
    mcsc_data('convert-acdc', str(raw), str(tmp_path/'A'), val=1, test=0, seed=3)
    assert 'training slices of 4 patients, 2 validation and 0 test volumes' in capsys.readouterr().out
    assert (tmp_path/'A'/'test.list').read_text() == ''
    mcsc_data('convert-acdc', str(raw), str(tmp_path/'B'), val=1, test=0, seed=3)
    assert (tmp_path/'A'/'train_slices.list').read_text() == (tmp_path/'B'/'train_slices.list').read_text()   # seeded

def _drop_gt(p): (p/'patient002_frame01_gt.nii.gz').unlink()
def _drop_info(p): (p/'Info.cfg').unlink()
def _reshape_gt(p): _write_frame(p, 1, np.zeros((10, 12, 3), np.int16), np.zeros((10, 12, 2), np.uint8), np.eye(4))
def _bad_ids(p): _write_frame(p, 1, np.zeros((10, 12, 3), np.int16), np.full((10, 12, 3), 4, np.uint8), np.eye(4))
def _flat(p): _write_frame(p, 1, np.zeros((10, 12), np.int16), np.zeros((10, 12), np.uint8), np.eye(4))

@pytest.mark.parametrize('damage, words', [
    (_drop_gt, 'patient002_frame01_gt.nii.gz: file is missing'),
    (_drop_info, 'patient002/Info.cfg: file is missing'),
    (_reshape_gt, 'patient002_frame01_gt.nii.gz: label shape (10, 12, 2) != image shape (10, 12, 3) of patient002_frame01.nii.gz'),
    (_bad_ids, 'patient002_frame01_gt.nii.gz: label values [4] outside the class range 0..3'),
    (_flat, 'patient002_frame01.nii.gz: image has shape (10, 12): expected a 3-D volume'),
])
def test_bad_input_is_one_line_naming_the_file(raw, tmp_path, capsys, damage, words):
    bad = Path(shutil.copytree(raw, tmp_path/'raw')); damage(bad/'patient002')
    with pytest.raises(SystemExit) as ex: mcsc_data('convert-acdc', str(bad), str(tmp_path/'out'))
    assert ex.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('mcsc-data: error: ') and words in lines[0], lines
    assert not (tmp_path/'out').exists() and not list(tmp_path.glob('.out*'))   # nothing left behind

def test_missing_nibabel_names_the_package(raw, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'nibabel', None)   # as if it were not installed
    with pytest.raises(SystemExit) as ex: mcsc_data('convert-acdc', str(raw), str(tmp_path/'out'))
    assert ex.value.code == 2
    assert 'needs the nibabel package: pip install "mcsc_fastai[nifti]"' in capsys.readouterr().err
