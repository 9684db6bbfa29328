"Float64 equivalence of the vectorised block contrast with the readable reference (method notes 7.2, 7.3)."
import itertools, math
import pytest, torch
import torch.nn.functional as F
from mcsc_fastai.contrast import (block_contrast, block_contrast_reference, balanced_supcon, block_grid,
                                  random_block_perms, legacy_relabel, multiscale_contrast, resample_labels,
                                  contrast_labels)

REL_TOL = 1e-9  # value and gradients agree to 1e-9 relative in float64

def rel_err(a, b): return float((a - b).abs().max() / b.abs().max().clamp(min=1e-30))

def random_maps(seed, n, d, h, w, n_classes, fg=0.3):
    "Normalised float64 features and labels with a foreground fraction of about `fg`."
    g = torch.Generator().manual_seed(seed)
    feats = F.normalize(torch.randn(n, d, h, w, generator=g, dtype=torch.float64), dim=1)
    labels = torch.randint(1, n_classes, (n, h, w), generator=g)
    labels[torch.rand(n, h, w, generator=g) > fg] = 0
    return feats, labels

def loss_and_grad(fn, feats, labels, block, **kw):
    f = feats.clone().requires_grad_()
    loss = fn(f, labels, block, **kw); loss.backward()
    return loss.detach(), f.grad

CASES = list(itertools.product([False, True], [False, True], [False, True], [False, True]))

@pytest.mark.parametrize('legacy_label_order,legacy_grid,balanced,discard_bg', CASES)
def test_vectorised_equals_reference(legacy_label_order, legacy_grid, balanced, discard_bg):
    flags = dict(legacy_label_order=legacy_label_order, legacy_grid=legacy_grid, balanced=balanced, discard_bg=discard_bg)
    for seed in range(3):
        g = torch.Generator().manual_seed(100 + seed)
        n, d, block = [int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in [(1, 5), (2, 7), (2, 5)]]
        h, w = [int(torch.randint(2*block, 4*block + 3, (1,), generator=g)) for _ in range(2)]
        n_classes = int(torch.randint(2, 6, (1,), generator=g))
        feats, labels = random_maps(seed, n, d, h, w, n_classes, fg=[0.05, 0.3, 0.9][seed])
        gh, gw = block_grid(h, w, block, legacy_grid)
        perms = random_block_perms(n, gh*gw)
        vec = loss_and_grad(block_contrast, feats, labels, block, perms=perms, chunk=2, n_classes=n_classes, **flags)
        ref = loss_and_grad(block_contrast_reference, feats, labels, block, perms=perms, **flags)
        assert rel_err(vec[0], ref[0]) < REL_TOL, (seed, flags, vec[0], ref[0])
        assert rel_err(vec[1], ref[1]) < REL_TOL, (seed, flags)

def test_reference_shapes_and_scales():
    "The official block sizes (19 and 14) on 4 maps: 1444 and 784 anchors per group, small widths."
    for size, block in [(28, 14), (38, 19)]:
        feats, labels = random_maps(7, 4, 4, size, size, 4, fg=0.05)
        for legacy in (False, True):
            gh, gw = block_grid(size, size, block, legacy)
            perms = random_block_perms(4, gh*gw)
            kw = dict(legacy_grid=legacy, legacy_label_order=legacy, perms=perms)
            vec = loss_and_grad(block_contrast, feats, labels, block, **kw)
            ref = loss_and_grad(block_contrast_reference, feats, labels, block, **kw)
            assert rel_err(vec[0], ref[0]) < REL_TOL and rel_err(vec[1], ref[1]) < REL_TOL

@pytest.mark.parametrize('legacy_grid', [False, True])
def test_legacy_order_is_aligned_loss_on_moved_labels(legacy_grid):
    "Method notes 3.8: the legacy loss equals the aligned loss fed labels re-ordered as (row, map, column)."
    for seed in range(3):
        feats, labels = random_maps(seed, 4, 5, 15, 13, 4, fg=0.4)
        gh, gw = block_grid(15, 13, 4, legacy_grid)
        perms = random_block_perms(4, gh*gw)
        kw = dict(perms=perms, legacy_grid=legacy_grid)
        legacy = loss_and_grad(block_contrast, feats, labels, 4, legacy_label_order=True, **kw)
        aligned = loss_and_grad(block_contrast, feats, legacy_relabel(labels, perms, 4, legacy_grid), 4, **kw)
        assert rel_err(legacy[0], aligned[0]) < REL_TOL and rel_err(legacy[1], aligned[1]) < REL_TOL

def test_legacy_relabel_formula():
    "Anchor (n, y, x) of a group gets the label of (n', y', x), y' = (n b + y) // N, n' = (n b + y) % N."
    n, b = 4, 3
    labels = torch.arange(n*b*b).view(n, b, b)               # every pixel its own code
    moved = legacy_relabel(labels, torch.zeros(n, 1, dtype=torch.long), b)
    for m, y, x in itertools.product(range(n), range(b), range(b)):
        src = m*b + y
        assert moved[m, y, x] == labels[src % n, src // n, x]

def test_separated_features_reach_the_minimum_and_shuffles_do_not():
    labels = (torch.arange(12) % 4).view(1, 12, 1).expand(4, 12, 12).clone()
    feats = torch.eye(4, dtype=torch.float64)[labels].permute(0, 3, 1, 2)
    perms = random_block_perms(4, 9)
    best = float(block_contrast(feats, labels, 4, perms=perms))
    n_pos = 4*4 - 1                                      # 4 maps x 4 columns of a class per group, minus self
    expected = (math.log(math.exp(10) + 3 + 1e-6) - 10) * n_pos / (n_pos + 1e-6)
    assert abs(best - expected) < 1e-12
    shuffled = labels.flatten()[torch.randperm(labels.numel())].view_as(labels)
    assert float(block_contrast(feats, shuffled, 4, perms=perms)) > 100*best
    assert float(block_contrast(feats, labels, 4, perms=perms, legacy_label_order=True)) > 100*best

def test_chunks_and_no_grad_give_the_same_value():
    feats, labels = random_maps(3, 3, 4, 16, 16, 3)
    perms = random_block_perms(3, 16)
    values = [block_contrast(feats, labels, 4, perms=perms, chunk=c) for c in (1, 3, 16, 100)]
    with torch.no_grad(): values.append(block_contrast(feats, labels, 4, perms=perms))
    assert max(rel_err(v, values[0]) for v in values) < 1e-12

def test_random_perms_come_from_torch_generator():
    feats, labels = random_maps(4, 4, 4, 12, 12, 3)
    torch.manual_seed(5); a = block_contrast(feats, labels, 3)
    torch.manual_seed(5); b = block_contrast(feats, labels, 3)
    assert float(a) == float(b)

def test_robustness():
    feats, labels = random_maps(5, 4, 6, 12, 12, 4)
    for lab in [torch.zeros_like(labels), torch.ones_like(labels)]:
        f = feats.float().requires_grad_()
        loss = block_contrast(f, lab, 4); loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(f.grad).all()
    f = feats.bfloat16().requires_grad_()
    loss = block_contrast(f, labels, 4, discard_bg=True); loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss) and f.grad.dtype == torch.bfloat16
    assert torch.isfinite(f.grad.float()).all()
    with pytest.raises(ValueError, match='feats'): block_contrast(feats, labels[:2], 4)
    with pytest.raises(ValueError, match='n_classes'): block_contrast(feats, labels, 4, n_classes=3)
    with pytest.raises(ValueError, match='n_classes'): block_contrast(feats, labels - 1, 4, n_classes=4)
    with pytest.raises(ValueError, match='perms'): block_contrast(feats, labels, 4, perms=torch.zeros(4, 2, dtype=torch.long))

def test_multiscale_views_outer_and_legacy_sampling():
    "N = 2B' maps, CNN images then Transformer images; coarse labels by the SciPy indices when asked."
    B, D = 3, 4
    g = torch.Generator().manual_seed(0)
    nf = lambda *s: F.normalize(torch.randn(*s, generator=g, dtype=torch.float64), dim=1)
    feats = {1: (nf(B, D, 32, 32), nf(B, D, 32, 32)), 8: (nf(B, D, 4, 4), nf(B, D, 4, 4))}
    y = torch.randint(0, 4, (B, 32, 32), generator=g)
    logits = tuple(torch.randn(B, 4, 32, 32, generator=g) for _ in range(2))
    is_lab = torch.tensor([True, False, True])
    labels = contrast_labels(y, is_lab, logits)
    perms = {1: random_block_perms(4, 16), 8: random_block_perms(4, 4)}
    out = multiscale_contrast(feats, labels, {1: 8, 8: 2}, use=is_lab, perms=perms, legacy_sampling=True, n_classes=4)
    sel = is_lab.nonzero().squeeze(1)
    for stride, block in [(1, 8), (8, 2)]:
        maps = torch.cat([feats[stride][0][sel], feats[stride][1][sel]])
        lab = resample_labels(labels[sel], maps.shape[-1], legacy=True)
        lab = torch.cat([lab[:, 0], lab[:, 1]])
        expected = block_contrast_reference(maps, lab, block, perms=perms[stride])
        assert rel_err(out[stride], expected) < REL_TOL

@pytest.mark.parametrize('legacy_label_order,legacy_grid,discard_bg', list(itertools.product([False, True], repeat=3)))
def test_lazy_projection_equals_projecting_first(legacy_label_order, legacy_grid, discard_bg):
    "Pixels (raw features + per-pixel projection) give the loss and gradients of the projected maps, per view widths differing."
    from functools import partial
    from mcsc_fastai.models import Pixels, Projector
    flags = dict(legacy_label_order=legacy_label_order, legacy_grid=legacy_grid, discard_bg=discard_bg)
    torch.manual_seed(0)
    proj = Projector({'cnn': 3, 'swin': 5}, 8, 6, norm_nets=('swin',)).double()
    for seed in range(2):
        g = torch.Generator().manual_seed(200 + seed)
        b, h, w, block = 2, 17, 14, 4
        raws = [torch.randn(b, c, h, w, generator=g, dtype=torch.float64) for c in (3, 5)]
        _, labels = random_maps(seed, 2*b, 1, h, w, 4, fg=0.2)
        gh, gw = block_grid(h, w, block, legacy_grid)
        perms = random_block_perms(2*b, gh*gw)
        results = []
        for lazy in (True, False):
            rs = [r.clone().requires_grad_() for r in raws]
            proj.zero_grad()
            views = [Pixels(r, partial(proj.embed, name=n)) if lazy else proj(r, n) for r, n in zip(rs, ('cnn', 'swin'))]
            loss = block_contrast(views, labels, block, perms=perms, n_classes=4, **flags); loss.backward()
            results.append([loss.detach(), rs[0].grad, rs[1].grad, proj.shared.weight.grad.clone(),
                            proj.inputs['swin'][0].weight.grad.clone()])
        for a, e in zip(*results): assert rel_err(a, e) < REL_TOL, (seed, flags)

def test_lazy_projection_all_background_gives_zero_grads():
    "No kept group: the loss is 0 and the projector still receives (zero) gradients."
    from functools import partial
    from mcsc_fastai.models import Pixels, Projector
    proj = Projector({'cnn': 3}, 8, 6)
    raw = torch.randn(2, 3, 8, 8, requires_grad=True)
    loss = block_contrast([Pixels(raw, partial(proj.embed, name='cnn'))], torch.zeros(2, 8, 8, dtype=torch.long), 4)
    loss.backward()
    assert float(loss) == 0 and float(raw.grad.abs().sum()) == 0
    assert proj.shared.weight.grad is not None and float(proj.shared.weight.grad.abs().sum()) == 0
