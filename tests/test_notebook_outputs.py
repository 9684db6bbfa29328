"""The teaching notebooks are committed with their outputs: figures where they draw, all notebooks within a
size budget, and no stored output that shows a private path (the licensed data folder, a home folder)."""
import json, re, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
BUDGET_BYTES = 4 * 2**20   # all notebooks in nbs/ together: they must stay light to read on GitHub and Colab;
                           # 4 MB leaves room for figures at 110 dpi, JPEG quality 80 (readable on the documentation site)
IMAGE_TYPES = ('image/png', 'image/jpeg')
MIN_IMAGES = {'00a_method': 1, '01_synthetic': 1, '02_augment': 1, '03_data': 1, '04_models': 1, '05_losses': 1,
              '06_contrast': 5, '07_metrics': 1, '12_embeddings': 1,
              '16_perturb': 4}  # notebook -> figures it must show (06: the loss in pictures)
PRIVATE = [r'shared/data', r'/home/[^/\s"\']+', r'/root/', r'/Users/[^/\s"\']+', r'[A-Za-z]:\\+Users\\+']

def _machine_paths() -> list:
    "Absolute folders of this checkout and of this Python: a stored output naming them was run on someone's machine."
    return [re.escape(p) for p in {str(ROOT), sys.prefix} if len(Path(p).parts) > 2]

def _outputs(nb:dict):
    for cell in nb.get('cells', []):
        yield from cell.get('outputs', [])

def n_images(nb:dict) -> int:
    "Outputs of `nb` holding a PNG or JPEG picture."
    return sum(any(k in o.get('data', {}) for k in IMAGE_TYPES) for o in _outputs(nb))

def _text(value) -> str: return value if isinstance(value, str) else ''.join(value)

def output_text(nb:dict) -> str:
    "Every stored output of `nb` as text: streams, tracebacks and non-image data (pictures are binary, left out)."
    parts = []
    for o in _outputs(nb):
        parts += [_text(o.get('text', '')), '\n'.join(o.get('traceback', []))]
        parts += [_text(v) if isinstance(v, (str, list)) else json.dumps(v)
                  for k, v in o.get('data', {}).items() if k not in IMAGE_TYPES]
    return '\n'.join(parts)

def private_paths(nb:dict, patterns:list|None=None) -> list:
    "The private paths (data folder, home folders, this machine's folders) found in the outputs of `nb`."
    text = output_text(nb)
    return [m.group(0) for p in (patterns or PRIVATE + _machine_paths()) for m in re.finditer(p, text)]

def notebooks() -> list: return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))

# The checks can fail: fake notebooks

def _fake(*outputs) -> dict: return dict(cells=[dict(cell_type='code', source='', outputs=list(outputs))])

def test_checks_on_fake_notebooks():
    jpeg = dict(output_type='display_data', data={'image/jpeg': '/9j/shared/data', 'text/plain': '<Figure>'})
    assert n_images(_fake(jpeg)) == 1 and n_images(_fake(dict(output_type='stream', name='stdout', text='x'))) == 0
    assert n_images(dict(cells=[dict(cell_type='markdown', source='![](x.png)')])) == 0
    assert private_paths(_fake(jpeg)) == []                       # image data is not text
    leak = dict(output_type='stream', name='stdout', text=['reading /work/shared/data/ACDC/data/patient001.h5\n'])
    assert private_paths(_fake(leak)) == ['shared/data']
    home = dict(output_type='execute_result', data={'text/plain': ["PosixPath('/home/alice/runs/demo')"]})
    assert private_paths(_fake(home)) == ['/home/alice']
    err = dict(output_type='error', traceback=['File /Users/bob/x.py, line 3'])
    assert private_paths(_fake(err)) == ['/Users/bob']
    here = dict(output_type='stream', name='stderr', text=f'{ROOT}/nbs/x.py:3: Warning')
    assert private_paths(_fake(here)) != []
    assert private_paths(_fake(dict(output_type='stream', name='stdout', text='/tmp/tmpab12/syn: 5 patients'))) == []

# The real notebooks

def test_budget():
    sizes = {p.name: p.stat().st_size for p in notebooks()}
    assert sum(sizes.values()) < BUDGET_BYTES, (f"notebooks take {sum(sizes.values())/2**20:.2f} MB, over the "
        f"{BUDGET_BYTES/2**20:.0f} MB budget; largest: {sorted(sizes.items(), key=lambda kv: -kv[1])[:5]}")

@pytest.mark.parametrize('name', sorted(MIN_IMAGES))
def test_figures_stored(name):
    path = NBS/f'{name}.ipynb'
    assert path.exists(), f"{path}: listed in MIN_IMAGES but missing"
    n = n_images(json.loads(path.read_text()))
    assert n >= MIN_IMAGES[name], (f"{path.name}: {n} stored figures, expected at least {MIN_IMAGES[name]}; execute it with "
                                   f"`nbdev-test {path.relative_to(ROOT)} --n-workers 0 --save`, then `nbdev-clean`")

@pytest.mark.parametrize('path', notebooks(), ids=lambda p: p.stem)
def test_no_private_paths(path):
    found = private_paths(json.loads(path.read_text()))
    assert not found, f"{path.name}: stored outputs show private paths {sorted(set(found))[:5]}; re-run it without them"
