"""The native-library split of ``bench/homepage_native.py``, read from ``perf report`` lines."""

from bench.homepage_native import category, report_samples

# Lines as `perf report --stdio -n --sort dso,symbol` prints them (less the padding).
REPORT = """\
# Samples: 9K of event 'cpu-clock'
#
    11.06%   1040  libpython3.11.so.1.0  [.] _PyEval_EvalFrameDefault  -  -
    4.26%    401  libscipy_openblas64_-32a4b2a6.so  [.] sgemv_kernel_4x4  -  -
    2.89%    272  _sparsetools.cpython-311-x86_64-linux-gnu.so  [.] csr_matvec_thunk  -  -
    1.75%    165  libc.so.6  [.] __memmove_avx512_unaligned_erms  -  -
    1.66%    156  _multiarray_umath.cpython-311-x86_64-linux-gnu.so  [.] mapiter_get  -  -
    1.08%    101  _multiarray_umath.cpython-311-x86_64-linux-gnu.so  [.] ufunc_generic_fastcall
    0.95%     89  _psycopg.cpython-311-x86_64-linux-gnu.so  [.] _psycopg.__pyx_f_wait_c  -  -
    0.26%     24  [kernel.kallsyms]  [k] _raw_spin_unlock_irqrestore  -  -
    0.31%     29  orjson.cpython-311-x86_64-linux-gnu.so  [.] orjson::serialize::dumps  -  -
"""


def test_every_sampled_line_is_counted_once_in_its_category() -> None:
    by_category, by_symbol = report_samples(REPORT)

    assert by_category == {
        "Python interpreter (libpython)": 1040,
        "BLAS (dense products)": 401,
        "scipy.sparse kernels": 272,
        "libc (malloc, memcpy, memset)": 165,
        "numpy: loops over the data": 156,
        "numpy: per-call overhead": 101,
        "database driver (psycopg, libpq)": 89,
        "operating system kernel": 24,
        "other libraries": 29,
    }
    assert by_symbol["libpython3: _PyEval_EvalFrameDefault"] == 1040
    assert sum(by_symbol.values()) == 1040 + 401 + 272 + 165 + 156 + 101 + 89 + 24 + 29


def test_numpy_symbols_split_into_loops_and_per_call_overhead() -> None:
    numpy = "_multiarray_umath.cpython-311-x86_64-linux-gnu.so"
    assert category(numpy, "DOUBLE_divide_X86_V3") == "numpy: loops over the data"
    assert category(numpy, "argpartition_unrolled<ymm_vector<float>>") == (
        "numpy: loops over the data"
    )
    assert category(numpy, "promote_and_get_info_and_ufuncimpl") == "numpy: per-call overhead"
    assert category(numpy, "PyArray_NewFromDescr_int") == "numpy: per-call overhead"
