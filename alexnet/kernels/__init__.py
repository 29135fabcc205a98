"""Fast GPU kernels (Triton). Each has a reference path in stock PyTorch that the tests compare to."""
