"""The documentation site's sources (`.ci/docs_site.py`): page names, links mapped to the site, notebooks as pages,
an API entry with its docments for every name of every `__all__`, and the check of a built site.
The site itself is built by `bash .ci/docs OUT` (CI runs it); these tests need no Sphinx."""
import importlib, importlib.util, json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location('docs_site', ROOT/'.ci'/'docs_site.py')
ds = importlib.util.module_from_spec(spec); spec.loader.exec_module(ds)
REPO = ds.repo_url()

def test_page_names():
    assert [ds.page_name(n) for n in ('06_contrast.ipynb', '00a_method', '20_tutorial_quickstart', 'index')] == \
           ['contrast', 'method', 'tutorial_quickstart', 'index']

def test_notebook_kinds():
    kinds = {p.stem: ds.nb_kind(p) for p in ds.notebooks()}
    assert (kinds['index'], kinds['00b_guide'], kinds['00a_method'], kinds['20_tutorial_quickstart'], kinds['06_contrast']) == \
           ('index', 'guide', 'notes', 'tutorial', 'library')
    toc = ds.toc_cell(kinds)['source']
    assert toc.index(':caption: Tutorials') < toc.index(':caption: Guide\n\nguide\n') < toc.index(':caption: Method\n\nmethod\n'), toc

def test_links_map_to_the_site():
    assert ds.map_link('nbs/06_contrast.ipynb', ROOT) == 'contrast.ipynb'            # the README's links
    assert ds.map_link('06_contrast.ipynb#cost', ROOT/'nbs') == 'contrast.ipynb#cost'  # a notebook's links
    assert ds.map_link('../results/README.md', ROOT/'nbs') == f'{REPO}/blob/main/results/README.md'
    assert ds.map_link('results', ROOT) == f'{REPO}/tree/main/results'
    for url in ('https://example.org/a.ipynb', '#a-section', 'nbs/no_such_notebook.ipynb'):
        assert ds.map_link(url, ROOT) == url                                           # left for Sphinx to judge

def test_markdown_links_and_names():
    names = {'balanced_supcon': 'mcsc_fastai.contrast.balanced_supcon'}
    pages = {'06_contrast': 'contrast.ipynb', 'mcsc-train': 'cli.md#mcsc-train'}
    md = ("See `06_contrast` and `balanced_supcon()`; [`balanced_supcon`](x.md), `unknown`, ``code``, `mcsc-train`\n"
          "[notes](nbs/00a_method.ipynb)\n```python\nbalanced_supcon  # `balanced_supcon`\n```")
    out = ds.map_markdown(md, ROOT, names, pages).split('\n')
    assert out[0] == ("See [`06_contrast`](contrast.ipynb) and {py:obj}`balanced_supcon() <mcsc_fastai.contrast.balanced_supcon>`; "
                      "[`balanced_supcon`](x.md), `unknown`, ``code``, [`mcsc-train`](cli.md#mcsc-train)")
    assert out[1] == '[notes](method.ipynb)'
    assert out[3] == 'balanced_supcon  # `balanced_supcon`'                        # code blocks are left alone
    assert ds.escape_md('`<tool>` <tool> 2*3, `balanced_supcon`', names) == \
           r'`<tool>` \<tool> 2\*3, {py:obj}`balanced_supcon <mcsc_fastai.contrast.balanced_supcon>`'    # docstrings

def _nb(*cells): return dict(cells=list(cells), metadata={}, nbformat=4, nbformat_minor=5)
def _cell(kind, src, outputs=()): return dict(cell_type=kind, source=src, metadata={}, **({'outputs': list(outputs)} if kind == 'code' else {}))

def test_notebook_as_page(tmp_path):
    (tmp_path/'nbs').mkdir(); (tmp_path/'pyproject.toml').write_text((ROOT/'pyproject.toml').read_text())
    path = tmp_path/'nbs'/'05_x.ipynb'
    path.write_text(json.dumps(_nb(_cell('markdown', '---\nskip_exec: true\n---'), _cell('markdown', '# X\n\n> sub'),
        _cell('code', '#| default_exp x'), _cell('code', '#| hide\nsecret = 1'), _cell('code', '#| export\ndef f(): pass'),
        _cell('raw', 'raw text'), _cell('markdown', 'see [y](06_y.ipynb)'))))
    (tmp_path/'nbs'/'06_y.ipynb').write_text(json.dumps(_nb()))
    page = ds.page_notebook(path, {}, {}, tmp_path)
    texts = [ds.cell_text(c) for c in page['cells']]
    assert texts[0] == '# X\n\n> sub' and 'nbs/05_x.ipynb' in texts[1]                 # title, then the source links
    assert texts[2:] == ['def f(): pass', 'see [y](y.ipynb)']                         # hidden cells and directives gone
    assert page['metadata']['language_info']['pygments_lexer'] == 'ipython3'
    assert ds.nb_kind(path) == 'library' and ds.nb_kind(tmp_path/'nbs'/'06_y.ipynb') == 'notes'

def test_constant_comments():
    src = ("A = 1  # one\n# the two\n# lines\nB = (2,\n     3)\nC = 4\n#| export\nD = 5\n"
           "E = {  # name -> value\n     'a': 1,  # an inner comment is not the constant's\n}\nF = dict(a=1,\n         b=2)  # all of F\n")
    assert ds.constant_comments(src) == {'A': 'one', 'B': 'the two lines', 'E': 'name -> value', 'F': 'all of F'}

def test_docments_in_entries():
    def f(a:int, # the first
          b:str='x', # the second, *starred*
         ) -> float: # the result
        "Do a thing."
    entry = ds.doc_entry('f', f, {})
    assert entry.startswith("```{py:function} f(a: int, b: str = 'x') -> float") and 'Do a thing.' in entry
    for line in (':param a: the first', ':type a: int', r':param b: the second, \*starred\*', ':returns: the result', ':rtype: float'):
        assert line in entry.split('\n')
    data = ds.doc_entry('TAU', 0.1, {'TAU': 'temperature'})
    assert data.split('\n') == ['```{py:data} TAU', '---', 'value: "0.1"', '---', 'temperature', '```']

@pytest.fixture(scope='module')
def api_pages():
    mods = ds.modules()
    return {m: ds.api_page(m, None, '', '') for m in mods}

def test_every_exported_name_has_an_entry(api_pages):
    assert len(api_pages) >= 10
    for m, page in api_pages.items():
        documented = set(re.findall(r'^`{3,4}\{py:(?:function|class|exception|data)\} (\w+)', page, re.M))
        missing = set(importlib.import_module(f'mcsc_fastai.{m}').__all__) - documented
        assert not missing, f'{m}: no API entry for {sorted(missing)}'

def test_api_entries_carry_docments(api_pages):
    page = api_pages['contrast']
    assert ':param tau: temperature' in page and ':param discard_bg: background (class 0) pixels are not anchors (DB)' in page
    assert re.search(r'\{py:data\} TAU\n---\nvalue: "0.1"\n---\ntemperature of the official run', page)

def test_cli_page():
    page = ds.cli_page({'mcsc-x': 'usage: mcsc-x [-h]\n'}, {'mcsc-x': 'mcsc_fastai.x:mcsc_x'})
    assert '## `mcsc-x`' in page and '```text\nusage: mcsc-x [-h]\n```' in page and '<mcsc_fastai.x.mcsc_x>' in page

def _fake_site(out:Path):
    "A built site as the check expects it: a page per notebook with its figures, API entries, the CLI page."
    (out/'_images').mkdir(parents=True); (out/'_images'/'f.jpg').write_bytes(b'x'); (out/'api').mkdir()
    (out/'index.html').write_text('<html></html>')
    for p in ds.notebooks():
        imgs = '<img alt="" src="_images/f.jpg" />' * ds.n_images(ds.read_nb(p))
        (out/f'{ds.page_name(p)}.html').write_text(f'<html>{imgs}</html>')
    for m in ds.modules():
        ids = ''.join(f'<dt id="mcsc_fastai.{m}.{n}">' for n in importlib.import_module(f'mcsc_fastai.{m}').__all__)
        (out/'api'/f'{m}.html').write_text(ids)
    (out/'cli.html').write_text(''.join(f'usage: {n} [-h]' for n in ds.scripts()))

def test_site_check_can_fail(tmp_path):
    out = tmp_path/'site'; _fake_site(out)
    assert ds.check_site(out) == []
    page = out/'contrast.html'; page.write_text(page.read_text().replace('<img alt="" src="_images/f.jpg" />', '', 1))
    (out/'api'/'core.html').write_text((out/'api'/'core.html').read_text().replace('id="mcsc_fastai.core.set_seed"', ''))
    (out/'method.html').unlink()
    problems = ds.check_site(out)
    assert any(p.startswith('06_contrast.ipynb: contrast.html shows') for p in problems)
    assert 'api/core.html: no entry for set_seed' in problems and '00a_method.ipynb: no page method.html' in problems
