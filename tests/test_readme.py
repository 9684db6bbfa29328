"README.md is nbs/index.ipynb's text (nbdev-readme needs Quarto, which is not installed here): they must not drift apart."
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def index_text(nb:dict) -> str:
    "The README that nbs/index.ipynb gives: its markdown cells, one blank line apart."
    return '\n\n'.join(''.join(c['source']).strip() for c in nb['cells'] if c['cell_type'] == 'markdown') + '\n'

def test_readme_is_the_index():
    nb = json.loads((ROOT/'nbs'/'index.ipynb').read_text())
    assert (ROOT/'README.md').read_text() == index_text(nb), "README.md differs from nbs/index.ipynb: rewrite it from the index"

def test_the_check_can_fail():
    nb = {'cells': [{'cell_type': 'markdown', 'source': ['# A\n']}, {'cell_type': 'code', 'source': ['x = 1']},
                    {'cell_type': 'markdown', 'source': ['text']}]}
    assert index_text(nb) == '# A\n\ntext\n'
    assert index_text(nb) != '# A\n\ntext changed\n'
