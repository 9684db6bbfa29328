"Everything `from mcsc_fastai import *` brings: fastai's vision API and the public names of every module."
from fastai.vision.all import *
from .core import *
from .synthetic import *
from .augment import *
from .nifti import *
from .data import *
from .models import *
from .losses import *
from .contrast import *
from .metrics import *
from .learner import *
from .distrib import *
from .train import *
from .embeddings import *
from .study import *
from .predict import *
