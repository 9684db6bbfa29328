"In-domain pretraining (`mcsc-pretrain`) and the Swin weights `mcsc-train --pretrained` accepts; nothing here touches the network."
import contextlib, hashlib, importlib, io, json, os, subprocess, sys
from dataclasses import replace
from pathlib import Path
import pytest, torch
from conftest import run_tool
from mcsc_fastai.core import set_seed
from mcsc_fastai.learner import tiny_config
from mcsc_fastai.models import SWIN_ENCODER, IMAGENET, SWIN_T_SHAPE, UNet, build_model, make_net
from mcsc_fastai.pretrain import (PRETRAINED_FILE, PRETRAIN_JSON, tiny_pretrain_config, pretrain_dls, pretrain_learner,
                                  pretrain_run, mcsc_pretrain)
from mcsc_fastai.train import check_pretrained, mcsc_train, preset_config, pretrained_sha256
from mcsc_fastai.study import pretrained_copies

BIN = Path(sys.executable).parent
models = importlib.import_module('mcsc_fastai.models')   # the module (the package's star import shadows the attribute)

@pytest.fixture(scope='module')
def pretrained(phantom, tmp_path_factory):
    "A finished tiny pretraining folder (the Swin-UNet of `tiny_config`)."
    out = tmp_path_factory.mktemp('pre')/'run'
    with contextlib.redirect_stdout(io.StringIO()):
        pretrain_run(tiny_pretrain_config(data=str(phantom), iters=4, eval_every=2), out, show_progress=False)
    return out

def _one_error_line(fn, tool):
    "Call a console-script function that must fail with a user error: its single stderr line."
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as e: fn()
    lines = err.getvalue().splitlines()
    assert e.value.code == 2 and len(lines) == 1 and lines[0].startswith(f'{tool}: error: '), lines
    return lines[0]

def test_a_few_iterations_lower_the_held_back_loss(phantom):
    set_seed(0)
    cfg = tiny_pretrain_config(data=str(phantom), iters=20, eval_every=20)
    learn = pretrain_learner(pretrain_dls(cfg, device='cpu'), cfg)
    before = learn.validate()[0]
    with learn.no_bar(), learn.no_logging(): learn.fit_pretrain()
    after = learn.validate()[0]
    assert after < 0.8 * before, (before, after)
    assert learn.validate()[0] == pytest.approx(after)          # fixed slices, fixed masks: the measurement repeats

def test_the_checkpoint_loads_and_changes_the_encoder(pretrained):
    path = pretrained/PRETRAINED_FILE
    set_seed(0); scratch = build_model(tiny_config('cts')).nets['swin'].state_dict()
    set_seed(0); model = build_model(tiny_config('cts', pretrained=str(path)))
    with contextlib.redirect_stdout(io.StringIO()) as said: rep = check_pretrained(model, path)
    loaded, saved = model.nets['swin'].state_dict(), torch.load(path, weights_only=True)['model']
    encoder = [k for k in loaded if k.startswith(SWIN_ENCODER)]
    assert set(encoder) == set(saved) and all(torch.equal(loaded[k], saved[k]) for k in encoder)
    assert sum(not torch.equal(loaded[k], scratch[k]) for k in encoder) > len(encoder) // 2
    assert torch.equal(loaded['head.weight'], scratch['head.weight'])           # the classifier is not pretrained
    assert said.getvalue().startswith(f'--pretrained {path}: loaded {len(encoder)} encoder tensors')
    assert rep['source']['by'] == 'mcsc-pretrain'

def test_mcsc_train_refuses_misfits_in_one_line(pretrained, phantom, tmp_path):
    out = tmp_path/'run'
    wider = pretrained.parent/'wider.pth'   # written by mcsc-pretrain for a Swin-UNet of another shape
    ck = torch.load(pretrained/PRETRAINED_FILE, weights_only=True)
    other = make_net('swin', replace(tiny_config('cts'), swin_embed_dim=16))
    torch.save(dict(model={k: v for k, v in other.state_dict().items() if k.startswith(SWIN_ENCODER)},
                    pretrain=ck['pretrain'] | dict(preset='wider', shape=models.swin_shape(other))), wider)
    line = _one_error_line(lambda: mcsc_train(preset='demo', data=str(phantom), labelled='2', pretrained=str(wider), out=str(out), iters=2), 'mcsc-train')
    assert "pretrained by mcsc-pretrain for the 'wider' preset's Swin-UNet (embedding 16" in line, line
    unet = pretrained.parent/'unet.pth'
    torch.save(UNet().state_dict(), unet)
    line = _one_error_line(lambda: mcsc_train(preset='demo', data=str(phantom), labelled='2', pretrained=str(unet), out=str(out), iters=2), 'mcsc-train')
    assert 'unet.pth: holds no Swin encoder tensors' in line and 'a U-Net or training-run checkpoint' in line, line
    line = _one_error_line(lambda: mcsc_train(preset='demo', data=str(phantom), labelled='2', pretrained=IMAGENET, out=str(out), iters=2), 'mcsc-train')
    assert 'ImageNet Swin-T has embedding 96' in line and '--pretrained FILE' in line, line
    assert not (out/'config.json').exists()

def test_the_resumable_state_given_as_pretrained_is_one_line(pretrained, phantom, tmp_path):
    "--pretrained DIR/latest.pth (the state a pretraining resumes from, which loads with weights_only=True): one line naming both files."
    assert torch.serialization.get_unsafe_globals_in_checkpoint(pretrained/'latest.pth') == []
    line = _one_error_line(lambda: mcsc_train(preset='demo', data=str(phantom), labelled='2', pretrained=str(pretrained/'latest.pth'),
                                              out=str(tmp_path/'run'), iters=2), 'mcsc-train')
    assert line == (f"mcsc-train: error: {pretrained/'latest.pth'}: the resumable state of a run (weights, optimiser and random state), "
                    f"not Swin weights; give {pretrained/PRETRAINED_FILE}"), line

def test_an_out_that_holds_another_pretraining_is_left_alone(pretrained, phantom, tmp_path):
    before = {p.name: p.read_bytes() for p in pretrained.iterdir()}
    line = _one_error_line(lambda: mcsc_pretrain(preset='demo', data=str(phantom), iters=20, out=str(pretrained)), 'mcsc-pretrain')
    assert 'holds another pretraining' in line and 'give another --out' in line, line
    assert {p.name: p.read_bytes() for p in pretrained.iterdir()} == before
    run = tmp_path/'run'; run.mkdir(); (run/'config.json').write_text('{}')
    line = _one_error_line(lambda: mcsc_pretrain(preset='demo', data=str(phantom), iters=20, out=str(run)), 'mcsc-pretrain')
    assert 'holds a training run (config.json), not a pretraining' in line, line

def test_imagenet_loads_through_timm_stand_in(monkeypatch):
    "`--pretrained imagenet`: timm's loader replaced by a stand-in returning Swin-T's tensors (timm's own model, random weights)."
    from timm.models.swin_transformer import SwinTransformer
    stand_in = SwinTransformer(**SWIN_T_SHAPE, num_classes=1000).state_dict()
    calls = []
    monkeypatch.setattr(models, 'fetch_imagenet_swin_t', lambda: calls.append(1) or stand_in)
    model = build_model(preset_config('acdc', 'cts', pretrained=IMAGENET))
    with contextlib.redirect_stdout(io.StringIO()): rep = check_pretrained(model, IMAGENET)
    swin = model.nets['swin'].state_dict()
    encoder = [k for k in swin if k.startswith(SWIN_ENCODER)]
    assert calls == [1] and all(torch.equal(swin[k], stand_in[k]) for k in encoder)
    assert torch.equal(swin['layers_up.0.blocks.0.attn.qkv.weight'], stand_in['layers.2.blocks.0.attn.qkv.weight'])  # mirrored
    assert {'head.fc.weight', 'head.fc.bias'} <= set(rep['unexpected'])

def test_imagenet_offline_is_one_line(phantom, tmp_path):
    "No network (the hub in offline mode, an empty cache): exit 2, one line naming the problem and the file alternative."
    env = os.environ | dict(HF_HUB_OFFLINE='1', HF_HOME=str(tmp_path/'hf'), OMP_NUM_THREADS='1')
    res = subprocess.run([str(BIN/'mcsc-train'), '--preset', 'acdc', '--method', 'cts', '--data', str(phantom), '--labelled', '2',
                          '--pretrained', 'imagenet', '--iters', '2', '--out', str(tmp_path/'run')], capture_output=True, text=True, env=env, cwd=tmp_path)
    lines = res.stderr.splitlines()
    assert res.returncode == 2 and len(lines) == 1, res.stderr[-2000:]
    assert lines[0].startswith('mcsc-train: error: --pretrained imagenet: timm could not fetch swin_tiny_patch4_window7_224.ms_in1k')
    assert 'offline, pass --pretrained FILE' in lines[0]
    assert not (tmp_path/'run'/'config.json').exists()

def test_mcsc_compare_imagenet_misfit_before_planning(phantom, tmp_path):
    res = run_tool('mcsc-compare', '--preset', 'demo', '--methods', 'cts', '--labelled', '2', '--seeds', '0',
                   '--data', phantom, '--pretrained', 'imagenet', '--out', tmp_path/'study')
    assert res.returncode == 2 and res.stderr.startswith('mcsc-compare: error: --pretrained imagenet: ImageNet Swin-T has'), res.stderr[-2000:]
    assert not (tmp_path/'study'/'plan.json').exists()

def test_pretrain_then_train_from_the_command_line(phantom, tmp_path):
    "The demo preset end to end (on the small phantom): 20 iterations of pretraining, then 20 of training from its encoder."
    env = os.environ | dict(OMP_NUM_THREADS='1')
    pre = subprocess.run([str(BIN/'mcsc-pretrain'), '--preset', 'demo', '--data', str(phantom), '--iters', '20', '--out', 'pre'],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert pre.returncode == 0, pre.stderr[-3000:]
    assert (tmp_path/'pre'/PRETRAINED_FILE).exists() and (tmp_path/'pre'/'reconstruction.png').exists()
    assert 'it 20/20' in pre.stdout and '20 iterations in ' in pre.stdout and 'held-back masked L1' in pre.stdout
    train = subprocess.run([str(BIN/'mcsc-train'), '--preset', 'demo', '--data', str(phantom), '--labelled', '2',
                            '--pretrained', f'pre/{PRETRAINED_FILE}', '--iters', '20',
                            '--out', 'run'], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    assert f'--pretrained pre/{PRETRAINED_FILE}: loaded ' in train.stdout and (tmp_path/'run'/'metrics.json').exists()
    stored = json.loads((tmp_path/'run'/'config.json').read_text())      # which copy of the file the run started from
    assert stored['pretrained_sha256'] == hashlib.sha256((tmp_path/'pre'/PRETRAINED_FILE).read_bytes()).hexdigest()

def test_study_says_which_records_started_from_another_copy(tmp_path):
    weights = tmp_path/'swin.pth'; weights.write_bytes(b'one copy')
    sha = hashlib.sha256(b'one copy').hexdigest()
    cfg = tiny_config('cts', pretrained=str(weights))
    assert pretrained_sha256(cfg) == sha and pretrained_sha256(tiny_config('unet-ls', pretrained=str(weights))) is None
    assert pretrained_copies(tmp_path, cfg) is None                       # no records yet
    def record(name, method, **extra):
        r = dict(name=name, method=method, labelled='3', seed=0, metrics={'cnn': {'classes': {}}}, **extra)
        (tmp_path/'records').mkdir(exist_ok=True); (tmp_path/'records'/f'{name}.json').write_text(json.dumps(r))
    record('cts-l3-s0', 'cts', pretrained_sha256=sha); record('unet-ls-l3-s0', 'unet-ls')  # no Swin-UNet: no copy to say
    assert pretrained_copies(tmp_path, cfg) is None
    record('mcsc-l3-s0', 'mcsc', pretrained_sha256='0' * 64); record('cts-l3-s1', 'cts')
    assert pretrained_copies(tmp_path, cfg) == (
        f"{weights} (sha256 {sha[:12]}): mcsc-l3-s0 started from another copy of it; cts-l3-s1 do not record which copy "
        f"they started from; their records are kept, and runs trained now start from this file")

def test_records_follow_the_weights_by_content(tmp_path):
    "A record of a run started from a weights file under another path is the plan's run when the file here has its SHA-256."
    from mcsc_fastai.study import _record_matches, _comparable
    here = tmp_path/'here'/'swin.pth'; here.parent.mkdir(); here.write_bytes(b'the weights')
    sha = hashlib.sha256(b'the weights').hexdigest()
    cfg = tiny_config('mcsc', pretrained=str(here))
    def record(pretrained, **extra):
        r = dict(name='mcsc-l3-s0', method='mcsc', labelled='3', seed=0, split='val', metrics={'cnn': {'classes': {}}},
                 config=_comparable(replace(cfg, pretrained=pretrained)), **extra)
        path = tmp_path/'records'/'mcsc-l3-s0.json'; path.parent.mkdir(exist_ok=True); path.write_text(json.dumps(r))
        return path
    assert _record_matches(record(str(here)), cfg)                                      # the same path: as before
    assert _record_matches(record('/elsewhere/swin.pth', pretrained_sha256=sha), cfg)   # another path, the same bytes
    assert not _record_matches(record('/elsewhere/swin.pth', pretrained_sha256='0' * 64), cfg)   # other bytes
    assert not _record_matches(record('/elsewhere/swin.pth'), cfg)                       # no hash recorded: the path decides
    assert not _record_matches(record('/elsewhere/swin.pth', pretrained_sha256=sha), replace(cfg, pretrained=str(tmp_path/'gone.pth')))
    other = _comparable(replace(cfg, pretrained='/elsewhere/swin.pth', w_cl=0.5))      # the same bytes, another setting
    path = record('/elsewhere/swin.pth', pretrained_sha256=sha)
    r = json.loads(path.read_text()); r['config'] = other; path.write_text(json.dumps(r))
    assert not _record_matches(path, cfg)
    assert not _record_matches(record(IMAGENET, pretrained_sha256=sha), cfg)             # hub weights are not a file here
