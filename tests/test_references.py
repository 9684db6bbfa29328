"Every reference to the method notes (a section such as 'method notes 3.8', or a defect code D1-D18) points to a heading of `nbs/00a_method.ipynb`."
import functools, json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTES = ROOT/'nbs'/'00a_method.ipynb'
SECTIONS = tuple(f'{i}' for i in range(9)) + ('5a',)   # top-level sections the notes must keep
DEFECTS = tuple(f'D{i}' for i in range(1, 19))

REF = r'\d+(?:\.\d+)*[a-z]?'                          # 3, 3.8, 3.7.1, 5a
REF_LIST = rf'{REF}(?:\s*(?:,|-|–|and)\s*{REF})*'     # 3.7-3.8, 7.2 / 1.1 and 1.5
CITATIONS = [re.compile(rf'method\s+notes[,:]?\s+(?:sections?\s+)?({REF_LIST})', re.I),       # method notes 3.8
             re.compile(rf'sections?\s+({REF_LIST})\s+of\s+the\s+method\s+notes', re.I),  # section 4 of the method notes
             re.compile(r'\bsections?\s+(\d+\.\d+(?:\.\d+)*[a-z]?)\b(?!\s+of the paper)', re.I)]  # section 3.8
DEFECT = re.compile(r'\bD(\d+)\b')
HEADING = re.compile(r'^#{1,6}\s+(D\d+|\d+(?:\.\d+)*[a-z]?)\b\.?', re.M)
ANCHOR = re.compile(r'<a\s+(?:id|name)="([^"]+)"', re.I)

def notebook_text(path:Path) -> str:
    "The sources of a notebook's cells (outputs, which may hold base64 images, are left out)."
    return '\n'.join(''.join(c['source']) for c in json.loads(path.read_text())['cells'])

def anchors(text:str) -> set:
    "Section numbers and defect codes that head a section of the notes, plus explicit HTML anchors."
    return set(HEADING.findall(text)) | set(ANCHOR.findall(text))

def expand(refs:str) -> list:
    "The references of one citation: '3.7-3.8, 7.2' -> ['3.7', '3.8', '7.2']; a range spans its ends' siblings."
    out = []
    for part in re.split(r'\s*(?:,|and)\s*', refs):
        ends = re.split(r'\s*[-–]\s*', part)
        if len(ends) == 2 and ends[0].rsplit('.', 1)[0] == ends[1].rsplit('.', 1)[0] and '.' in ends[0]:
            stem, lo, hi = ends[0].rsplit('.', 1)[0], int(ends[0].rsplit('.', 1)[1]), int(ends[1].rsplit('.', 1)[1])
            out += [f'{stem}.{i}' for i in range(lo, hi + 1)]
        else: out += ends
    return [r for r in out if r]

def references(text:str) -> set:
    "Every section number and defect code that `text` cites."
    refs = {r for pat in CITATIONS for m in pat.finditer(text) for r in expand(m.group(1))}
    return refs | {f'D{n}' for n in DEFECT.findall(text)}

def dangling(text:str, known:set) -> set:
    "References in `text` that `known` does not hold."
    return references(text) - known

def bare_mentions(text:str) -> list:
    "Mentions of the method notes that cite no section (a reader cannot follow them), with some context."
    spans = [m.span() for pat in CITATIONS[:2] for m in pat.finditer(text)]
    return [text[max(m.start() - 40, 0):m.end() + 20] for m in re.finditer(r'method\s+notes', text, re.I)
            if not any(a <= m.start() < b for a, b in spans)]

@functools.cache
def sources() -> dict:
    "Name -> text of every notebook, the README and every module of the package."
    docs = {p.name: notebook_text(p) for p in sorted((ROOT/'nbs').glob('*.ipynb'))}
    docs['README.md'] = (ROOT/'README.md').read_text()
    docs |= {f'mcsc_fastai/{p.name}': p.read_text() for p in sorted((ROOT/'mcsc_fastai').glob('*.py'))}
    return docs

@pytest.fixture(scope='module')
def known(): return anchors(notebook_text(NOTES))

def test_notes_hold_every_section_and_defect(known):
    missing = [s for s in SECTIONS + DEFECTS if s not in known]
    assert not missing, f"{NOTES.name} lacks the headings {missing}"

@pytest.mark.parametrize('name', list(sources()))
def test_references_exist(name, known):
    bad = dangling(sources()[name], known)
    assert not bad, f"{name} cites {sorted(bad)}, which {NOTES.name} does not hold"
    if name != NOTES.name: assert not bare_mentions(sources()[name]), f"{name}: {bare_mentions(sources()[name])}"

def test_the_check_can_fail(known):
    fake = "as method notes 9.9 says (see also D99, section 4.17, and method notes 3.1-3.3)"
    test_refs = references(fake)
    assert {'9.9', 'D99', '4.17', '3.1', '3.2', '3.3'} <= test_refs, test_refs
    assert dangling(fake, known) == {'9.9', 'D99', '4.17'}
    assert references("method notes 3.7-3.8, 7.2 and section 4 of the\nmethod notes") == {'3.7', '3.8', '7.2', '4'}
    assert len(bare_mentions("as the method notes say; method notes 3.1")) == 1

def test_every_legacy_switch_is_documented():
    from mcsc_fastai.learner import LEGACY_SWITCHES
    text = notebook_text(NOTES)
    section6 = text[text.index('## 6.'):text.index('## 7.')]
    assert all(f'`{k}' in section6 for k in LEGACY_SWITCHES), [k for k in LEGACY_SWITCHES if f'`{k}' not in section6]
