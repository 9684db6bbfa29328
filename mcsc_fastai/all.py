"Everything `from mcsc_fastai import *` brings: fastai's vision API and the public names of every module."
from fastai.vision.all import *
from .core import *
