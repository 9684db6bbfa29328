"Semi-supervised medical image segmentation with Multi-Scale Cross Contrastive Learning (MCSC) on fastai."
__version__ = "0.1.0"

from .all import *
