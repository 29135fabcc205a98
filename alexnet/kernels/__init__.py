"""Fast kernels: LRN in Triton on CUDA (:mod:`.lrn`) and in C on the CPU (:mod:`.lrn_cpu`). Each has a
reference path in stock PyTorch that the tests compare to."""
