"""Shared test settings: headless plots and one BLAS/torch thread (faster for small ops here)."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib

matplotlib.use("Agg")

try:  # torch is a dependency, but keep collection working if someone imports without it
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass
