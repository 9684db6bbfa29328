"Metrics against MedPy (a test-only dependency) on random blobs, and an end-to-end evaluation of the ACDC validation split."
import math, time
import numpy as np
import pytest
import torch, torch.nn.functional as F
from torch import nn
from scipy import ndimage
from medpy.metric import binary as medpy_binary
from mcsc_fastai.core import ACDC_CLASSES, Volume, data_root
from mcsc_fastai.metrics import (volume_metrics, surface_distances, hd95_asd, evaluate, summary_table,
                                 metrics_json, write_tables, max_distance)

TOL = 1e-6  # agreement asked of the cross-check

def blobs(shape, seed, sigma=2.0, fraction=0.15):
    "A random smooth binary mask of `shape` covering about `fraction` of it (touching the borders too)."
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), sigma)
    return noise > np.quantile(noise, 1 - fraction)

def medpy_all(pred, gt, spacing):
    "Dice, HD95, ASD (pred -> gt) and ASSD as MedPy computes them."
    return dict(dice=medpy_binary.dc(pred, gt), hd95=medpy_binary.hd95(pred, gt, voxelspacing=spacing),
                asd=medpy_binary.asd(pred, gt, voxelspacing=spacing), assd=medpy_binary.assd(pred, gt, voxelspacing=spacing))

CASES = [((10, 40, 36), None), ((10, 40, 36), (5.0, 1.5, 1.25)), ((48, 40), None), ((48, 40), (0.7, 1.9))]

@pytest.mark.parametrize('shape,spacing', CASES)
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_medpy_agreement_random_blobs(shape, spacing, seed):
    pred, gt = blobs(shape, seed), blobs(shape, seed + 100)
    labels_pred, labels_gt = pred.astype(np.uint8), gt.astype(np.uint8)
    ours = volume_metrics(labels_pred, labels_gt, 2, spacing=spacing)[1]
    for k, v in medpy_all(pred, gt, spacing).items(): assert abs(ours[k] - v) <= TOL, (k, ours[k], v)

@pytest.mark.parametrize('spacing', [None, (3.0, 1.0, 0.5)])
def test_medpy_agreement_small_far_apart(spacing):
    "Small objects far apart in a large volume: the bounding-box crop must not change anything."
    pred, gt = np.zeros((12, 80, 80), bool), np.zeros((12, 80, 80), bool)
    pred[2:5, 3:9, 4:10] = True; pred[0, 0, 0] = True           # one blob and a corner voxel
    gt[6:11, 60:70, 55:77] = True; gt[9, 40:42, 40:42] = False
    ours = volume_metrics(pred.astype(np.uint8), gt.astype(np.uint8), 2, spacing=spacing)[1]
    for k, v in medpy_all(pred, gt, spacing).items(): assert abs(ours[k] - v) <= TOL, (k, ours[k], v)

def benchmark_percase(pred, gt):
    "The benchmark's per-case metric (method notes 5.2): MedPy dc/hd95 when the prediction is not empty, else (0, 0)."
    if pred.sum() > 0: return medpy_binary.dc(pred, gt), medpy_binary.hd95(pred, gt)
    return 0, 0

@pytest.mark.parametrize('seed', [0, 1])
def test_legacy_matches_benchmark(seed):
    gt = np.zeros((8, 32, 32), np.uint8)
    for c in (1, 2, 3): gt[blobs((8, 32, 32), seed + 10 * c, fraction=0.1)] = c
    pred = gt.copy(); pred[blobs((8, 32, 32), seed + 7, fraction=0.2)] = 1; pred[pred == 3] = 0   # class 3 missed
    ours = volume_metrics(pred, gt, 4, legacy=True)
    for c in (1, 2, 3):
        dc, hd = benchmark_percase(pred == c, gt == c)
        assert abs(ours[c]['dice'] - dc) <= TOL and abs(ours[c]['hd95'] - hd) <= TOL, (c, ours[c], dc, hd)
    assert ours[3]['missed'] and ours[3]['hd95'] == 0
    assert volume_metrics(pred, gt, 4)[3]['hd95'] == max_distance(gt.shape)

# ---------------------------------------------------------------- real data
ACDC = data_root('ACDC')
needs_acdc = pytest.mark.skipif(ACDC is None, reason='MCSC_DATA is not set (real ACDC data)')

def read_val_volumes(root):
    "The validation volumes of val.list, through `mcsc_fastai.data` when it is there, else straight from the h5 files."
    try:
        from mcsc_fastai.data import open_dataset
        layout = open_dataset(root)
        return [layout.read_volume(n) for n in layout.val_names]
    except ImportError: pass
    import h5py
    vols = []
    for name in (root/'val.list').read_text().split():
        with h5py.File(root/'data'/f'{name}.h5') as f: vols.append(Volume(name, f['image'][:], f['label'][:]))
    return vols

class TinyTwoNet(nn.Module):
    "An untrained stand-in for the two-network module: two small random CNNs, `eval_net` selects one."
    net_names = ('cnn', 'swin')
    def __init__(self, n_classes=4, width=8):
        super().__init__()
        self.eval_net = 'cnn'
        self.nets = nn.ModuleDict({n: nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
                                                    nn.Conv2d(width, n_classes, 3, padding=1)) for n in self.net_names})
    def forward(self, x):
        if self.training: return tuple(self.nets[n](x) for n in self.net_names)
        if self.eval_net == 'mean': return torch.stack([self.nets[n](x).softmax(1) for n in self.net_names]).mean(0).log()
        return self.nets[self.eval_net](x)

TINY_UNET = dict(widths=(4, 8, 16, 32, 64))                                  # CPU-test widths
TINY_SWIN = dict(embed_dim=12, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))   # CPU-test Swin-UNet

def untrained_two_nets(size=224, n_classes=4, window=7):
    "Untrained U-Net + Swin-UNet (tiny widths) in `MCSCModel` when `mcsc_fastai.models` exists, else `TinyTwoNet`."
    try: from mcsc_fastai.models import UNet, SwinUNet, MCSCModel
    except ImportError: return TinyTwoNet(n_classes)
    nets = dict(cnn=UNet(1, n_classes, **TINY_UNET),
                swin=SwinUNet(img_size=size, in_chans=1, n_classes=n_classes, window_size=window, **TINY_SWIN))
    return MCSCModel(nets, scales=())

EVAL_VOLUMES = 4   # real validation volumes evaluated (an untrained network's surface distances are slow to compute)

@needs_acdc
def test_evaluate_acdc_val_untrained(tmp_path):
    torch.manual_seed(0)
    vols, model = read_val_volumes(ACDC), untrained_two_nets()
    assert len(vols) == 20
    vols = vols[:EVAL_VOLUMES]                                        # the path is the same for each volume
    t0 = time.perf_counter()
    df = evaluate(model, vols, 4, ACDC_CLASSES, size=224)
    print(f'evaluate ({type(model).__name__}): {len(vols)} volumes x 2 networks in {time.perf_counter() - t0:.1f} s')
    assert len(df) == 2 * EVAL_VOLUMES * 3 and set(df.net) == {'cnn', 'swin'}
    assert df.dice.between(0, 1).all() and df.hd95.notna().all()      # every class is present in every ACDC volume
    shapes = {v.name: v.label.shape for v in vols}
    missed = df[df.missed]
    assert all(h == max_distance(shapes[n]) for h, n in zip(missed.hd95, missed.volume))   # missed: the penalty
    table = summary_table(df, ACDC_CLASSES)
    assert list(table.columns[:4]) == ['mean', 'Myo', 'LV', 'RV'] and table.index.name == 'Dice % / HD95 (voxels)'
    js = metrics_json(df)
    assert set(js) == {'cnn', 'swin'} and set(js['cnn']['classes']) == {'RV', 'Myo', 'LV'}
    assert all(p.exists() for p in write_tables(df, ACDC_CLASSES, tmp_path).values())

# ---------------------------------------------------------------- training: fastai Learner on the synthetic phantom
def _ce_both(pred, y, is_labelled=None):
    "Cross-entropy of every network's logits on the labelled pixels (y = -1 elsewhere)."
    logits = getattr(pred, 'logits', pred)
    return sum(F.cross_entropy(l, y, ignore_index=-1) for l in (logits if isinstance(logits, tuple) else (logits,)))

def test_volume_dice_callback_phantom_learner(phantom, tmp_path):
    pytest.importorskip('mcsc_fastai.data'); pytest.importorskip('mcsc_fastai.models')
    from mcsc_fastai.data import mcsc_dls
    from fastai.learner import Learner
    from fastai.callback.tracker import SaveModelCallback
    from fastai.callback.progress import CSVLogger
    from mcsc_fastai.metrics import VolumeDiceCallback, mean_fg_dice
    size = 64
    dls = mcsc_dls(phantom, labelled=1, bs=4, labelled_bs=2, size=size, num_workers=0, seed=0, device='cpu',
                   epoch_len=3)   # two short epochs: the callback is what is tested
    model = untrained_two_nets(size, dls.n_classes, window=4)
    learn = Learner(dls, model, loss_func=_ce_both, path=tmp_path, cbs=[VolumeDiceCallback(dls.valid_volumes, size), CSVLogger()])
    with learn.no_bar(): learn.fit(2, 1e-3, cbs=SaveModelCallback(monitor='dice_cnn', fname='best', with_opt=False))
    names = list(learn.recorder.metric_names)
    assert names[-3:] == ['dice_cnn', 'dice_swin', 'time'], names
    last = learn.recorder.values[-1][-2:]
    assert all(0 <= v <= 1 for v in last), last
    assert abs(last[0] - mean_fg_dice(learn.model, dls.valid_volumes, dls.n_classes, size, net='cnn')) < 1e-9 or \
        (tmp_path/'models'/'best.pth').exists()   # SaveModelCallback may have reloaded an earlier, better epoch
    assert (tmp_path/'models'/'best.pth').exists() and 'dice_swin' in (tmp_path/'history.csv').read_text()
