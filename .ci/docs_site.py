"""The documentation site's sources, written from the repository as it is, and the check of a built site.

`python .ci/docs_site.py sources DEST` writes into DEST (a temporary folder) what Sphinx builds with `conf.py`:
- every notebook of `nbs/` with its stored outputs, under nbdev's page name (`06_contrast` -> `contrast`), without
  its hidden cells and `#|` directives, its links to other notebooks and repository files mapped to the site,
  and the names of notebooks and exported functions in backticks linked to their pages;
- `api/<module>`: every name in each module's `__all__`, with its signature, docstring and the docments
  (the `# comment` after each parameter), as entries of Sphinx's Python domain;
- `cli`: each console script of pyproject.toml with its `--help`, run at build time;
- `results`: the committed study summaries under `results/` (tables and figures).
`python .ci/docs_site.py check OUT` checks a built site: every notebook is a page that holds its figures, and
every name of every `__all__` has an API entry.
"""
from __future__ import annotations
import ast, copy, importlib, inspect, io, json, os, re, shutil, subprocess, sys, tempfile, tokenize, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = 'mcsc_fastai'
SKIP_MODULES = ('all', '_modidx', '__init__')   # `all` re-exports, `_modidx` is nbdev's index
HIDE_DIRECTIVES = ('hide', 'default_exp')       # cells nbdev leaves out of its pages
IMAGE_TYPES = ('image/png', 'image/jpeg', 'image/svg+xml', 'image/gif')
MAX_VALUE_CHARS = 120                           # constants longer than this are shown cut, with an ellipsis
HELP_COLUMNS = '100'                            # terminal width the `--help` texts are formatted for
SECTIONS = {'tutorial': 'Tutorials', 'guide': 'Guide', 'notes': 'Method', 'library': 'Library'}

# ---------------------------------------------------------------------------------------------------------------
# Notebooks: which there are, their page names and kinds

def notebooks(nbs:Path=ROOT/'nbs') -> list:
    "The notebooks of `nbs`, as `nbdev` and the tests see them (names starting with `_` or `.` are not)."
    return sorted(p for p in nbs.glob('*.ipynb') if not p.name.startswith(('_', '.')))

def page_name(nb_path:Path|str) -> str:
    "nbdev's page name of a notebook: its file name without the number prefix (`06_contrast` -> `contrast`)."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', Path(nb_path).stem)

def read_nb(path:Path) -> dict: return json.loads(Path(path).read_text())

def cell_text(cell:dict) -> str:
    src = cell.get('source', '')
    return src if isinstance(src, str) else ''.join(src)

def directives(cell:dict) -> list:
    "The nbdev directives (`#| name ...`) of a code cell, as their first words."
    return [l[2:].strip().split(':')[0].split()[0] for l in cell_text(cell).splitlines()
            if l.startswith('#|') and l[2:].strip()]

def nb_kind(path:Path, nb:dict|None=None) -> str:
    "'index', 'tutorial' (`*_tutorial_*`), 'guide' (`*_guide`), 'library' (exports a module) or 'notes' (any other notebook)."
    if path.stem == 'index': return 'index'
    if '_tutorial_' in path.stem: return 'tutorial'
    if path.stem.endswith('_guide'): return 'guide'
    nb = nb or read_nb(path)
    is_lib = any('default_exp' in directives(c) for c in nb['cells'] if c['cell_type'] == 'code')
    return 'library' if is_lib else 'notes'

def exported_module(nb:dict) -> str|None:
    "The module a notebook exports (`#| default_exp NAME`), or None."
    for c in nb['cells']:
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', cell_text(c), re.M) if c['cell_type'] == 'code' else None
        if m: return m.group(1)
    return None

def n_images(nb:dict) -> int:
    "Outputs of `nb` that hold a picture."
    return sum(any(k in o.get('data', {}) for k in IMAGE_TYPES) for c in nb['cells'] for o in c.get('outputs', []))

# ---------------------------------------------------------------------------------------------------------------
# Links: README-style links to notebooks and repository files, backticked names

def repo_url(root:Path=ROOT) -> str:
    return tomllib.loads((root/'pyproject.toml').read_text())['project']['urls']['Repository'].rstrip('/')

def map_link(url:str, base:Path, root:Path=ROOT) -> str:
    "The site's address for a markdown link `url` written in a file of folder `base` (an unchanged `url` if external)."
    if re.match(r'^[a-z][a-z0-9+.-]*:|^#|^/', url, re.I): return url
    path, _, anchor = url.partition('#')
    target = (base/path).resolve()
    try: rel = target.relative_to(root.resolve())
    except ValueError: return url
    if rel.suffix == '.ipynb' and rel.parent == Path('nbs') and target.exists():
        return f"{page_name(rel)}.ipynb" + (f'#{anchor}' if anchor else '')
    if target.exists():
        kind = 'tree' if target.is_dir() else 'blob'
        return f"{repo_url(root)}/{kind}/main/{rel.as_posix()}" + (f'#{anchor}' if anchor else '')
    return url   # left as written: Sphinx reports it if it is broken

FENCE = re.compile(r'^\s*(```|~~~)')
MD_LINK = re.compile(r'(!?\[[^\]]*\]\()([^)\s]+)(\))')
BACKTICKED = re.compile(r'(?<![\[`\w])`(\w[\w.-]*)(\(\))?`(?![\]`])')   # `name` or `name()`, not inside a link text

def map_markdown(md:str, base:Path, names:dict, pages:dict, root:Path=ROOT) -> str:
    "Markdown `md` with links mapped (see `map_link`), backticked names linked (`pages`: name -> target; `names`: API), outside code."
    out, in_code = [], False
    for line in md.split('\n'):
        if FENCE.match(line): in_code = not in_code
        if not in_code:
            line = MD_LINK.sub(lambda m: m.group(1) + map_link(m.group(2), base, root) + m.group(3), line)
            line = BACKTICKED.sub(lambda m: _name_link(m, names, pages), line)
        out.append(line)
    return '\n'.join(out)

def _name_link(m, names:dict, pages:dict) -> str:
    name, call = m.group(1), m.group(2) or ''
    if name in pages: return f"[`{name}`]({pages[name]})"
    if name in names: return f"{{py:obj}}`{name}{call} <{names[name]}>`"
    return m.group(0)

# ---------------------------------------------------------------------------------------------------------------
# A notebook as a page

def _code_cell_for_page(cell:dict) -> dict|None:
    "The cell as the page shows it: None for hidden cells, otherwise without its `#|` lines."
    if set(directives(cell)) & set(HIDE_DIRECTIVES): return None
    cell = copy.deepcopy(cell)
    lines = [l for l in cell_text(cell).split('\n') if not l.startswith('#|')]
    cell['source'] = '\n'.join(lines).strip('\n')
    return cell

COLAB = 'https://colab.research.google.com/github'

def source_links(nb_path:Path, root:Path=ROOT, colab:bool=True) -> str:
    "One markdown line: the notebook on GitHub (and in Colab)."
    rel = nb_path.resolve().relative_to(root.resolve()).as_posix()
    gh = repo_url(root).removeprefix('https://github.com/')
    return (f"<small>Notebook: [`{rel}`]({repo_url(root)}/blob/main/{rel})" +
            (f" · [open in Colab]({COLAB}/{gh}/blob/main/{rel})" if colab else '') + "</small>")

FRONT_MATTER = re.compile(r'^---\n.*\n---\s*$', re.S)
LANGUAGE_INFO = {'name': 'python', 'pygments_lexer': 'ipython3'}   # `!cmd` lines are IPython, not errors

def page_notebook(nb_path:Path, names:dict, pages:dict, root:Path=ROOT) -> dict:
    "The notebook at `nb_path` as the site's page: hidden cells out, directives stripped, links mapped."
    nb = read_nb(nb_path)
    is_index = nb_path.stem == 'index'
    base = root if is_index else nb_path.parent        # the index is the README: its links start at the root
    cells = []
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] == 'raw' or i == 0 and FRONT_MATTER.match(cell_text(c)): continue   # front matter (`skip_exec`)
        if c['cell_type'] == 'code':
            c = _code_cell_for_page(c)
            if c is None: continue
        else:
            c = copy.deepcopy(c)
            c['source'] = map_markdown(cell_text(c), base, names, pages, root)
        for o in c.get('outputs', []):
            if 'text/markdown' in o.get('data', {}):
                o['data']['text/markdown'] = map_markdown(cell_text({'source': o['data']['text/markdown']}), base, names, pages, root)
        cells.append(c)
    if not is_index and cells and cells[0]['cell_type'] == 'markdown':
        has_colab = any(COLAB in cell_text(c) for c in cells if c['cell_type'] == 'markdown')
        cells.insert(1, dict(cell_type='markdown', id='site-source-links', metadata={}, source=source_links(nb_path, root, colab=not has_colab)))
    return dict(nb, cells=cells, metadata=dict(nb.get('metadata', {}), language_info=LANGUAGE_INFO))

def toc_cell(kinds:dict) -> dict:
    "The index's hidden tables of contents: tutorials, the guide, method notes, library notebooks, then the reference."
    parts = []
    for kind, caption in SECTIONS.items():
        pages = [page_name(p) for p, k in kinds.items() if k == kind]
        if pages: parts.append(f"```{{toctree}}\n:hidden:\n:caption: {caption}\n\n" + '\n'.join(pages) + '\n```')
    parts.append("```{toctree}\n:hidden:\n:caption: Reference\n\napi/index\ncli\nresults\n```")
    return dict(cell_type='markdown', id='site-toc', metadata={}, source='\n\n'.join(parts))

def page_markdown(nb:dict) -> str:
    "A page notebook as plain markdown (the `.html.md` copy beside each page): text, code, printed outputs."
    parts = []
    for c in nb['cells']:
        if c['cell_type'] == 'markdown': parts.append(cell_text(c)); continue
        if c['cell_type'] != 'code' or not cell_text(c).strip(): continue
        parts.append(f"```python\n{cell_text(c)}\n```")
        for o in c.get('outputs', []):
            text = cell_text({'source': o.get('text', '')}) or cell_text({'source': o.get('data', {}).get('text/markdown', '')})
            if not text and not any(k in o.get('data', {}) for k in IMAGE_TYPES):
                text = cell_text({'source': o.get('data', {}).get('text/plain', '')})
            if text.strip(): parts.append(f"```\n{text.rstrip()}\n```")
    return '\n\n'.join(parts) + '\n'

# ---------------------------------------------------------------------------------------------------------------
# API pages

def modules(root:Path=ROOT) -> list:
    "The package's module names (those nbdev exports), in file order."
    return sorted(p.stem for p in (root/PACKAGE).glob('*.py') if p.stem not in SKIP_MODULES)

def api_names(mods:list) -> dict:
    "Every name in the `__all__` of `mods` -> its full dotted path."
    out = {}
    for m in mods:
        mod = importlib.import_module(f'{PACKAGE}.{m}')
        out.update({n: f'{PACKAGE}.{m}.{n}' for n in mod.__all__})
    return out

def constant_comments(source:str) -> dict:
    "Module-level `NAME = value  # comment` (or comment lines just above it) -> the comment."
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT: comments[tok.start[0]] = (tok.start[1], tok.string.lstrip('#').strip())
    out, lines = {}, source.split('\n')
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            if not isinstance(t, ast.Name): continue
            found = [comments[l][1] for l in (node.lineno, node.end_lineno) if l in comments and comments[l][0] > 0]
            above, l = [], node.lineno - 1
            while l in comments and comments[l][0] == 0 and not lines[l-1].startswith('#|'): above.insert(0, comments[l][1]); l -= 1
            text = ' '.join(found[:1] or above)
            if text: out[t.id] = text
    return out

def escape_md(text:str, names:dict|None=None) -> str:
    "`text` for a markdown page: `<` and `*` outside code spans escaped, backticked API names linked."
    parts = re.split(r'(`[^`]*`)', str(text))
    out = ''.join(p if p.startswith('`') else p.replace('<', r'\<').replace('*', r'\*') for p in parts)
    return BACKTICKED.sub(lambda m: _name_link(m, names, {}), out) if names else out

def _anno(a) -> str:
    if a is inspect.Parameter.empty: return ''
    if isinstance(a, str): return a
    return getattr(a, '__name__', None) if isinstance(a, type) else str(a).replace('typing.', '')

def _default(d) -> str:
    r = repr(d)
    return r if len(r) <= MAX_VALUE_CHARS else r[:MAX_VALUE_CHARS] + '...'

def signature(obj) -> str:
    "`(a: int = 1, *, b: str = 'x') -> float` for `obj`, annotations as written (empty if there is none)."
    try: sig = inspect.signature(obj)
    except (TypeError, ValueError): return '()'
    params, seen_kwonly = [], False
    for p in sig.parameters.values():
        if p.kind == p.KEYWORD_ONLY and not seen_kwonly and not any(q.kind == q.VAR_POSITIONAL for q in sig.parameters.values()):
            params.append('*'); seen_kwonly = True
        s = {p.VAR_POSITIONAL: '*', p.VAR_KEYWORD: '**'}.get(p.kind, '') + p.name
        if (a := _anno(p.annotation)): s += f': {a}'
        if p.default is not p.empty: s += (' = ' if a else '=') + _default(p.default)
        params.append(s)
    ret = _anno(sig.return_annotation)
    return f"({', '.join(params)})" + (f' -> {ret}' if ret else '')

def param_fields(obj, names:dict|None=None) -> list:
    "Field-list lines (`:param x: comment`, `:type x: T`, `:returns:`) from the docments of `obj`."
    from fastcore.docments import docments
    try: docs = docments(obj, full=True)
    except Exception: return []
    lines = []
    for name, d in docs.items():
        comment, anno = d.get('docment'), _anno(d.get('anno', inspect.Parameter.empty))
        if anno == 'NoneType': anno = ''                 # docments' guess from a `None` default, not an annotation
        if name == 'return':
            if comment: lines.append(f':returns: {escape_md(comment, names)}')
            if anno: lines.append(f':rtype: {anno}')
            continue
        if comment or anno:
            lines.append(f':param {name}: {escape_md(comment or "", names)}'.rstrip())
            if anno: lines.append(f':type {name}: {anno}')
    return lines

def _directive(kind:str, head:str, body:list, fence:str='```') -> str:
    return '\n'.join([f"{fence}{{py:{kind}}} {head}", *body, fence])

def _method_kind(cls, name:str) -> str:
    static = inspect.getattr_static(cls, name)
    return ('staticmethod' if isinstance(static, staticmethod) else 'classmethod' if isinstance(static, classmethod)
            else 'property' if isinstance(static, property) else 'method')

def doc_entry(name:str, obj, comments:dict, names:dict|None=None) -> str:
    "One entry of the Python domain (function, class with its methods, or data) for the API page."
    if inspect.isclass(obj):
        kind = 'exception' if issubclass(obj, BaseException) else 'class'
        body = [escape_md(inspect.getdoc(obj) or '', names), '', *param_fields(obj, names)]
        for m_name, m in _methods(obj):
            kind_m = _method_kind(obj, m_name)
            sig = '' if kind_m == 'property' else signature(m)
            body += ['', _directive(kind_m, m_name + sig, [escape_md(inspect.getdoc(m) or '', names), '', *param_fields(m, names)])]
        return _directive(kind, name + (signature(obj) if kind == 'class' else ''), body, fence='````')
    if inspect.isroutine(obj):
        return _directive('function', name + signature(obj), [escape_md(inspect.getdoc(obj) or '', names), '', *param_fields(obj, names)])
    value = json.dumps(_default(obj).replace('\n', ' '))        # JSON is YAML: any value survives the options block
    return _directive('data', name, ['---', f'value: {value}', '---', escape_md(comments.get(name, ''), names)])

def _methods(cls) -> list:
    "Public methods of `cls` written in this package (including those added with `@patch`), in definition order."
    out = []
    for n, v in vars(cls).items():
        fn = v.__func__ if isinstance(v, (staticmethod, classmethod)) else v.fget if isinstance(v, property) else v
        if n.startswith('_') and n != '__call__' or not inspect.isfunction(fn): continue
        if getattr(fn, '__module__', '').startswith(PACKAGE) and inspect.getdoc(fn): out.append((n, fn))
    return out

def api_page(mod_name:str, nb_page:str|None, title:str, subtitle:str, names:dict|None=None) -> str:
    "The API page of module `mod_name`: every name of its `__all__`."
    mod = importlib.import_module(f'{PACKAGE}.{mod_name}')
    comments = constant_comments(inspect.getsource(mod))
    head = [f"# `{PACKAGE}.{mod_name}`", '', f"{escape_md(subtitle)}" if subtitle else '', '',
            f"```{{py:module}} {PACKAGE}.{mod_name}\n```", '']
    if nb_page: head += [f"Built, explained and tested in the notebook [{title}](../{nb_page}.ipynb).", '']
    entries = [doc_entry(n, getattr(mod, n), comments, names) for n in mod.__all__]
    return '\n'.join(head + ['\n\n'.join(entries), ''])

def api_index(mods:list, subtitles:dict) -> str:
    "The API reference's first page: one row per module, with its notebook's subtitle."
    rows = '\n'.join(f"| [`{PACKAGE}.{m}`]({m}.md) | {escape_md(subtitles.get(m, ''))} |" for m in mods)
    return (f"# API reference\n\nEvery public name (each module's `__all__`) with its signature, its docstring and the "
            f"comment on each parameter. `from {PACKAGE} import *` brings them all, with fastai's vision API.\n\n"
            f"| module | what it holds |\n|---|---|\n{rows}\n\n```{{toctree}}\n:hidden:\n\n" + '\n'.join(mods) + '\n```\n')

def nb_title(nb:dict) -> tuple:
    "The title (`# ...`) and subtitle (`> ...`) of a notebook's first cell."
    first = cell_text(nb['cells'][0]) if nb['cells'] else ''
    t = re.search(r'^#\s+(.+)$', first, re.M); s = re.search(r'^>\s*(.+)$', first, re.M)
    return (t.group(1).strip() if t else ''), (s.group(1).strip() if s else '')

# ---------------------------------------------------------------------------------------------------------------
# Command-line page

HELP_SCRIPT = '''
import contextlib, importlib, io, json, sys
out = {}
for name, target in json.loads(sys.argv[1]).items():
    mod, fn = target.split(':')
    f = getattr(importlib.import_module(mod), fn)
    sys.argv = [name, '--help']
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try: f()
        except SystemExit: pass
    out[name] = buf.getvalue()
print(json.dumps(out))
'''

def scripts(root:Path=ROOT) -> dict:
    "The console scripts of pyproject.toml: name -> 'module:function'."
    return tomllib.loads((root/'pyproject.toml').read_text())['project']['scripts']

def script_helps(entries:dict) -> dict:
    "Each console script's `--help` text, as the installed command prints it (one Python process for all)."
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp)/'helps.py'; script.write_text(HELP_SCRIPT)   # run as a file: @call_parse parses sys.argv
        res = subprocess.run([sys.executable, str(script), json.dumps(entries)], capture_output=True, text=True,
                             env=dict(os.environ, COLUMNS=HELP_COLUMNS), check=True)
    helps = json.loads(res.stdout.strip().splitlines()[-1])
    empty = [n for n, h in helps.items() if 'usage:' not in h]
    if empty: raise RuntimeError(f"no --help text from {empty}: {res.stderr[-2000:]}")
    return helps

def cli_page(helps:dict, entries:dict) -> str:
    "The command-line page: each console script with its `--help`."
    parts = ['# Command line', '',
             'The console scripts installed with the package (`pip install -e .`), each with its `--help` as the '
             'installed command prints it. A user error prints one line `<tool>: error: <message>` on stderr and '
             'exits with status 2; `--debug` shows the traceback.', '']
    for name, text in helps.items():
        mod, fn = entries[name].split(':')
        parts += [f'## `{name}`', '', f'Runs {{py:func}}`{fn} <{mod}.{fn}>`.', '', '```text', text.rstrip(), '```', '']
    return '\n'.join(parts)

# ---------------------------------------------------------------------------------------------------------------
# Results page

def tracked_files(folder:Path, root:Path=ROOT) -> list|None:
    "Files under `folder` that git tracks (None outside a git checkout): ignored local files are never published."
    try: res = subprocess.run(['git', 'ls-files', '-z', '--', str(folder)], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError): return None
    return [root/p for p in res.stdout.split('\0') if p]

def demote(md:str, by:int=1) -> str:
    "Markdown `md` with its headings `by` levels deeper (outside code blocks)."
    out, in_code = [], False
    for line in md.split('\n'):
        if FENCE.match(line): in_code = not in_code
        out.append('#' * by + line if not in_code and re.match(r'^#{1,5}\s', line) else line)
    return '\n'.join(out)

RESULT_TEXTS = ('README.md', 'summary.md', 'metrics_test_summary.md')   # in this order, per results folder

def results_page(dest:Path, names:dict, pages:dict, root:Path=ROOT) -> str:
    "The results page: results/README.md, then each folder's README, summary tables and figures."
    res_dir = root/'results'
    files = tracked_files(res_dir, root)
    files = set(files) if files is not None else {p for p in res_dir.rglob('*') if p.is_file()}
    readme = (res_dir/'README.md').read_text()
    parts = [map_markdown(readme, res_dir, names, pages, root), '']
    for d in sorted(p for p in res_dir.iterdir() if p.is_dir()):
        parts += [f'## `{d.name}`', '']
        for t in RESULT_TEXTS:
            if d/t in files:
                md = map_markdown((d/t).read_text(), d, names, pages, root)
                parts += [demote(re.sub(r'^#\s.*\n', '', md, count=1) if t != 'README.md' else md, 2), '']
        for img in sorted(p for p in files if p.parent == d and p.suffix == '.png'):
            rel = Path('_results')/d.name/img.name
            (dest/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(img, dest/rel)
            parts += [f'![{d.name}: {img.stem}]({rel.as_posix()})', '']
        parts += [f'[The folder on GitHub]({repo_url(root)}/tree/main/results/{d.name})', '']
    return '\n'.join(parts)

# ---------------------------------------------------------------------------------------------------------------
# Everything

def write_sources(dest:Path, root:Path=ROOT, helps:dict|None=None) -> dict:
    "Write the site's sources into `dest`; returns the backticked names that link a page (notebooks, scripts)."
    dest = Path(dest); dest.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(root))
    nbs = notebooks(root/'nbs')
    nb_data = {p: read_nb(p) for p in nbs}
    kinds = {p: nb_kind(p, nb_data[p]) for p in nbs}
    entries = scripts(root)
    # `06_contrast` in backticks links its page, `mcsc-train` its --help; plain words (`data`) link nothing
    pages = {p.stem: f'{page_name(p)}.ipynb' for p in nbs} | {n: f'cli.md#{n}' for n in entries}
    mods = modules(root)
    names = api_names(mods)
    (dest/'_extra').mkdir(exist_ok=True); (dest/'api').mkdir(exist_ok=True)
    for p in nbs:
        nb = page_notebook(p, names, pages, root)
        if kinds[p] == 'index': nb['cells'].append(toc_cell(kinds))
        (dest/f'{page_name(p)}.ipynb').write_text(json.dumps(nb, indent=1))
        (dest/'_extra'/f'{page_name(p)}.html.md').write_text(page_markdown(nb))
    mod_nb = {exported_module(nb_data[p]): p for p in nbs if kinds[p] == 'library'}
    titles = {m: nb_title(nb_data[mod_nb[m]]) if m in mod_nb else ('', '') for m in mods}
    for m in mods:
        (dest/'api'/f'{m}.md').write_text(api_page(m, page_name(mod_nb[m]) if m in mod_nb else None, *titles[m], names))
    (dest/'api'/'index.md').write_text(api_index(mods, {m: t[1] for m, t in titles.items()}))
    (dest/'cli.md').write_text(cli_page(helps or script_helps(entries), entries))
    (dest/'results.md').write_text(results_page(dest, names, pages, root))
    return pages

# ---------------------------------------------------------------------------------------------------------------
# Checking a built site

def html_images(html:str) -> int:
    "Pictures of notebook outputs on a built page (myst-nb writes them as image files)."
    return len(re.findall(r'<img[^>]+src="(?:\.\./)*_images/[^"]+"', html))

def check_site(out:Path, root:Path=ROOT) -> list:
    "What is wrong with the site built into `out`: missing pages, pages without their figures, API names without an entry."
    out, problems = Path(out), []
    if not (out/'index.html').exists(): problems.append('index.html is missing')
    for p in notebooks(root/'nbs'):
        page = out/f'{page_name(p)}.html'
        if not page.exists(): problems.append(f'{p.name}: no page {page.name}'); continue
        want, html = n_images(read_nb(p)), page.read_text()
        got = html_images(html)
        if got < want: problems.append(f'{p.name}: {page.name} shows {got} of its {want} figures')
        for src in re.findall(r'<img[^>]+src="([^"]+)"', html):
            if not re.match(r'^[a-z]+:', src) and not (page.parent/src).exists(): problems.append(f'{page.name}: missing image {src}')
    sys.path.insert(0, str(root))
    for m in modules(root):
        page = out/'api'/f'{m}.html'
        if not page.exists(): problems.append(f'api/{m}.html is missing'); continue
        html = page.read_text()
        for n in importlib.import_module(f'{PACKAGE}.{m}').__all__:
            if f'id="{PACKAGE}.{m}.{n}"' not in html: problems.append(f'api/{m}.html: no entry for {n}')
    cli = out/'cli.html'
    if not cli.exists(): problems.append('cli.html is missing')
    else:
        text = cli.read_text()
        problems += [f'cli.html: no --help of {n}' for n in scripts(root) if f'usage: {n}' not in text]
    return problems

if __name__ == '__main__':
    cmd, target = sys.argv[1], Path(sys.argv[2])
    if cmd == 'sources':
        write_sources(target)
        print(f'{len(notebooks())} notebooks, {len(modules())} API pages, the command line and the results written to {target}')
    elif cmd == 'check':
        problems = check_site(target)
        for p in problems: print('docs check:', p, file=sys.stderr)
        if problems: sys.exit(1)
        print(f'docs check: {len(notebooks())} notebook pages with their figures, API entries for every name in __all__')
    else: sys.exit(f'usage: {sys.argv[0]} sources DEST | check OUT')
