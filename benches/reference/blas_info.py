"""Which BLAS a process really uses, and its threads (and PyTorch's OpenMP threads).

Debian's torch and numpy link the generic `libblas.so.3`, which update-alternatives points at
OpenBLAS or at the reference BLAS (~30× slower). Build flags cannot tell which: the mapped
library files of the running process can.
"""

import ctypes
import os
import re


# Idle libgomp workers spin this many iterations before sleeping (libgomp's default is 300,000
# when OMP_WAIT_POLICY is unset). PyTorch's OpenMP pool and Debian's pthreads OpenBLAS pool are
# separate: while OpenBLAS computes a matmul on both cores, PyTorch's idle OpenMP worker spins
# on one of them, and OpenBLAS's idle workers spin during PyTorch's elementwise ops. On 2 cores
# a short spin made PyTorch's vit-tiny-p4 (batch 128) train 1.6x faster (83-97 → 135-169 img/s)
# and evaluate 2x faster, and left resnet-cifar unchanged within noise; spin counts 0-30,000
# did about as well (30,000 slightly best for the ViT), 300,000 was the slow case.
GOMP_SPINCOUNT = "30000"


def set_thread_env(threads):
    """Call before importing torch or numpy: OpenBLAS (pthreads) and OpenMP read these at load.
    A GOMP_SPINCOUNT or OMP_WAIT_POLICY already in the environment is kept."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)


def describe_threading():
    """The OpenMP settings a run used, as one line."""
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
    return " ".join(f"{k}={os.environ[k]}" for k in keys if k in os.environ)


def loaded_blas_paths():
    """Paths of the BLAS-like shared libraries mapped into this process."""
    paths = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(path)
            if re.search(r"blas|mkl_rt|mkl_core|libblis|libflame", name) and path not in paths:
                paths.append(path)
    return paths


def _openblas(path):
    try:
        lib = ctypes.CDLL(path)
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_get_num_threads  # noqa: B018 - raises AttributeError when absent
        return lib
    except (OSError, AttributeError):
        return None


def pin_blas_threads(threads):
    """openblas_set_num_threads on every loaded OpenBLAS (the env var only acts at load time)."""
    for path in loaded_blas_paths():
        lib = _openblas(path)
        if lib is not None:
            lib.openblas_set_num_threads(int(threads))


def describe():
    """One line: the BLAS in use (OpenBLAS config and thread count when it is OpenBLAS), then
    the mapped library files."""
    paths = loaded_blas_paths()
    if not paths:
        return "unknown (no BLAS library mapped yet)"
    for path in paths:
        lib = _openblas(path)
        if lib is not None:
            config = lib.openblas_get_config().decode().strip()
            threads = lib.openblas_get_num_threads()
            return f"{config}, {threads} threads [{', '.join(paths)}]"
    return f"not OpenBLAS [{', '.join(paths)}]"


def is_reference_blas():
    """True when the mapped libblas is Debian's reference (netlib) BLAS (~30x slower)."""
    paths = loaded_blas_paths()
    return any("/blas/libblas" in p for p in paths) and not any(_openblas(p) for p in paths)
