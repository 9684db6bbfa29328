"Semi-supervised medical image segmentation with Multi-Scale Cross Contrastive Learning (MCSC) on fastai."
__version__ = "0.1.0"

import warnings
# fastai's layers module compiles two activations with `torch.jit.script` at import, which recent PyTorch
# releases flag as deprecated; the warning says nothing about this package and would clutter every command.
warnings.filterwarnings('ignore', message=r'`torch\.jit\.script` is deprecated', category=FutureWarning)
# `python -m mcsc_fastai.train` (how torchrun and accelerate launch start `mcsc-train`) runs a module this package
# has imported already; the module's entry point hands over to that imported module, so runpy's warning does not apply.
warnings.filterwarnings('ignore', message=r"'mcsc_fastai\.train' found in sys\.modules", category=RuntimeWarning)

from .all import *
