"""AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012), rebuilt faithfully in PyTorch."""
from .errors import AlexNetError
from .lrn import LocalResponseNorm, local_response_norm

__all__ = ["AlexNetError", "LocalResponseNorm", "local_response_norm"]
