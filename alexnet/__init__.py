"""AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012), rebuilt faithfully in PyTorch.

==========================  ==========================================  =========
name                        what                                        paper
==========================  ==========================================  =========
``AlexNet``                 the network on one device                   §3.5
``TwoTowerAlexNet``         the network split over two devices          §3.2
``CifarAlexNet``            the same family at CIFAR-10 size            —
``FourLayerCNN``            the CIFAR-10 net of Figure 1                §3.1
``LocalResponseNorm``       local response normalisation                §3.3
``alexnet.transforms``      crops, flips, PCA lighting, ten-crop        §2, §4.1
``alexnet.data``            CIFAR-10, image folders, batch loaders      §2
``alexnet.train``           SGD recipe, top-1/top-5 error, checkpoints  §5
==========================  ==========================================  =========
"""
from . import data, train, transforms
from .errors import AlexNetError
from .lrn import LocalResponseNorm, local_response_norm
from .model import AlexNet, CifarAlexNet, FourLayerCNN
from .two_tower import TwoTowerAlexNet

__version__ = "0.1.0"
__all__ = ["AlexNet", "AlexNetError", "CifarAlexNet", "FourLayerCNN", "LocalResponseNorm",
           "TwoTowerAlexNet", "local_response_norm"]
