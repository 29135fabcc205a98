"""AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012), rebuilt faithfully in PyTorch.

==========================  ==========================================  =========
name                        what                                        paper
==========================  ==========================================  =========
``AlexNet``                 the network on one device                   §3.5
``TwoTowerAlexNet``         the network split over two devices          §3.2
``CifarAlexNet``            the same family at CIFAR-10 size            —
``FourLayerCNN``            the CIFAR-10 net of Figure 1                §3.1
``LocalResponseNorm``       LRN; the paper's n, α, β, k: ``PAPER_LRN``  §3.3
``alexnet.activations``     ReLU and the saturating units, by name      §3.1
``alexnet.pooling``         (overlapping) pooling and its windows       §3.4
``alexnet.transforms``      crops, flips, PCA lighting, ten-crop        §2, §4.1
``alexnet.data``            CIFAR-10, image folders, batch loaders      §2
``alexnet.train``           SGD recipe, top-1/top-5 error, checkpoints  §5
``alexnet.dropout``         the paper's dropout (×0.5 at test time)     §4.2
``alexnet.checkpoint``      atomic checkpoints, safe loading, locks     —
``alexnet.architectures``   every model by name; rebuild from a config  —
``alexnet.departures``      where the code departs from the paper       §2–§5
``alexnet.distributed``     torchrun process groups                     —
``alexnet.runtime``         devices, cores, allocator, provenance       —
``alexnet.summary``         layer table: shapes, parameters, MACs       §3.5
``alexnet.reproduce``       the paper's claims, measured; the ledger    §3–§6
``alexnet.analysis``        filters per tower, nearest neighbours       §6.1
``alexnet.bench``           speed benchmarks with provenance            —
``alexnet.weights``         trained weights, their transforms and card  —
``alexnet.caffe``           BVLC's Caffe AlexNet read without Caffe     —
``alexnet.export``          ONNX export; packaging checkpoints          —
``alexnet.predict``         top-5 classes of images from weights        —
``alexnet.viz``             the book's figures and widgets              —
``alexnet.kernels``         fused Triton LRN (used on CUDA)             §3.3
``alexnet.cli``             ``python -m alexnet`` / ``alexnet``         —
==========================  ==========================================  =========
"""
from . import data, train, transforms
from .errors import AlexNetError
from .lrn import PAPER_LRN, LocalResponseNorm, local_response_norm
from .export import export_onnx, export_weights
from .model import AlexNet, CifarAlexNet, FourLayerCNN
from .two_tower import TwoTowerAlexNet
from .weights import AlexNet_Weights, CifarAlexNet_Weights

__version__ = "0.1.0"
__all__ = ["AlexNet", "AlexNetError", "AlexNet_Weights", "CifarAlexNet", "CifarAlexNet_Weights",
           "FourLayerCNN", "LocalResponseNorm", "PAPER_LRN", "TwoTowerAlexNet", "export_onnx",
           "export_weights", "local_response_norm"]
