"""Sphinx configuration of the documentation site (https://mcsc-fastai.github.io/mcsc_fastai).

The site is built from the notebooks in `nbs/` as they are, with their stored outputs (nothing is executed):
`bash .ci/docs OUT` writes its sources into a temporary folder with `.ci/docs_site.py` (notebooks without their
hidden cells and nbdev directives, an API page per module, the command-line page, the results page) and
builds them with this configuration. Needs the `docs` extra: `pip install -e ".[docs]"`.
"""
import sys, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PYPROJECT = tomllib.loads((ROOT/'pyproject.toml').read_text())
sys.path.insert(0, str(ROOT))

project = PYPROJECT['project']['name']
author = 'the mcsc_fastai authors'
copyright = author
html_title = project
html_baseurl = PYPROJECT['project']['urls']['Documentation'].rstrip('/') + '/'

extensions = ['myst_nb', 'sphinx.ext.mathjax']
root_doc = 'index'
exclude_patterns = ['_build', '_extra', '**.ipynb_checkpoints']   # _extra: copied as they are (`.html.md`)

# The notebooks are rendered with the outputs stored in them: a site build never runs training code.
nb_execution_mode = 'off'
nb_render_markdown_format = 'myst'     # markdown outputs (the study tables) are read with tables
nb_merge_streams = True                # one block per cell for print output, as in Jupyter
myst_enable_extensions = ['dollarmath', 'amsmath', 'fieldlist', 'colon_fence', 'strikethrough']
myst_heading_anchors = 3               # `page.ipynb#a-section` links, as on GitHub
myst_dmath_double_inline = True
# The method notes go from ## to #### in places: a heading level skipped is a style choice, not a broken page.
suppress_warnings = ['myst.header']

# API pages use Sphinx's Python domain: names are searchable and `{py:obj}` links are checked.
add_module_names = False
python_display_short_literal_types = True
nitpicky = False

html_theme = 'furo'
html_static_path = [str(ROOT/'.ci'/'docs_static')]
html_css_files = ['site.css']
html_js_files = ['site.js']
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    'source_repository': PYPROJECT['project']['urls']['Repository'] + '/',
    'source_branch': 'main',
    'source_directory': 'nbs/',
    'top_of_page_buttons': [],         # pages are notebooks or generated: each notebook page links its own source
    'navigation_with_keys': True,
}
