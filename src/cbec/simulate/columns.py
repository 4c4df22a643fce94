"""Arrow columns built straight from numpy arrays, without a Python object per row.

Money is exact: an amount is an integer number of fen (numpy int64), and a DECIMAL(18,2) column is
written from those integers as its unscaled values (Arrow stores a decimal as the 128-bit integer
`value * 10**scale`), so no float and no rounding is ever involved. Quantities are integer
thousandths written into DECIMAL(18,5) the same way. Fixed-width ASCII text (document numbers,
identity numbers, GUIDs) is assembled as a byte matrix, one row per value.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cbec.documents.schemas import MONEY, QUANTITY, TIME

IntArray = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.uint8]

if sys.byteorder != "little":  # Arrow's decimal buffers are little-endian two's complement
    raise ImportError("cbec.simulate builds Arrow buffers directly and needs a little-endian host")

_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


def unscaled_decimal(unscaled: npt.ArrayLike, dtype: pa.Decimal128Type) -> pa.Array:
    """A decimal column whose values are `unscaled / 10**dtype.scale`, exactly."""
    values = np.ascontiguousarray(unscaled, dtype=np.int64)
    words = np.empty((len(values), 2), dtype=np.int64)
    words[:, 0] = values
    words[:, 1] = values >> 63  # sign extension to 128 bits
    return pa.Array.from_buffers(dtype, len(values), [None, pa.py_buffer(words)])


def money(fen: npt.ArrayLike) -> pa.Array:
    """Integer fen as DECIMAL(18,2) CNY."""
    return unscaled_decimal(fen, MONEY)


def quantity(thousandths: npt.ArrayLike) -> pa.Array:
    """Integer thousandths (of a unit, a kilogram, a litre) as DECIMAL(18,5)."""
    shift = 10 ** (QUANTITY.scale - 3)
    return unscaled_decimal(np.asarray(thousandths, dtype=np.int64) * shift, QUANTITY)


def times(seconds: npt.ArrayLike) -> pa.Array:
    """Seconds since 1970-01-01 00:00 on the wall clock (China Standard Time, naive)."""
    return pa.array(np.asarray(seconds, dtype=np.int64) * 1_000_000, type=TIME)


def constant_text(value: str | None, n: int) -> pa.Array:
    """`value` repeated `n` times (a null column for None)."""
    if value is None:
        return pa.nulls(n, pa.string())
    return pa.array([value], pa.string()).take(pa.array(np.zeros(n, dtype=np.int32)))


def pick(values: Sequence[str] | pa.Array, index: npt.ArrayLike) -> pa.Array:
    """values[index] as a string column."""
    table = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    return table.take(pa.array(np.asarray(index, dtype=np.int64)))


def join(*parts: pa.Array | str) -> pa.Array:
    """Row-wise concatenation of string columns and constants."""
    return pc.binary_join_element_wise(*parts, "")


def replace(base: pa.Array, mask: npt.NDArray[np.bool_], values: pa.Array) -> pa.Array:
    """`base` with the rows where `mask` holds replaced by `values`, in order."""
    index = np.arange(len(base), dtype=np.int64)
    index[mask] = len(base) + np.arange(int(mask.sum()), dtype=np.int64)
    return pa.concat_arrays([base, values.cast(base.type)]).take(pa.array(index))


def null_where(base: pa.Array, mask: npt.NDArray[np.bool_]) -> pa.Array:
    """`base` with the rows where `mask` holds set to null."""
    return pc.if_else(pa.array(mask), pa.scalar(None, base.type), base)


# Fixed-width ASCII -------------------------------------------------------------------------


def ascii_column(*parts: Bytes) -> pa.Array:
    """Concatenate byte matrices (one row per value) into a string column."""
    matrix = np.ascontiguousarray(np.hstack(parts), dtype=np.uint8)
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(matrix.ravel())]
    )


def digits(values: npt.ArrayLike, width: int) -> Bytes:
    """Non-negative integers as zero-padded decimal digits, `width` characters each."""
    rest = np.array(values, dtype=np.int64, copy=True)
    out = np.empty((len(rest), width), dtype=np.uint8)
    for position in range(width - 1, -1, -1):
        out[:, position] = rest % 10 + 48
        rest //= 10
    return out


def text(value: str, n: int) -> Bytes:
    """An ASCII constant as an n-row byte matrix."""
    row = np.frombuffer(value.encode("ascii"), dtype=np.uint8)
    return np.broadcast_to(row, (n, len(row)))


def choose(table: Sequence[str], index: npt.ArrayLike) -> Bytes:
    """table[index] for a table of ASCII strings of one width."""
    widths = {len(entry) for entry in table}
    if len(widths) != 1:
        raise ValueError("choose() needs strings of one width")
    matrix = np.frombuffer("".join(table).encode("ascii"), dtype=np.uint8).reshape(len(table), -1)
    return matrix[np.asarray(index, dtype=np.int64)]


def guids(rng: np.random.Generator, n: int) -> pa.Array:
    """Upper-case random (version 4) UUIDs, 36 characters."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2] = _HEX[raw >> 4]
    nibbles[:, 1::2] = _HEX[raw & 0x0F]
    dash = text("-", n)
    return ascii_column(
        nibbles[:, 0:8],
        dash,
        nibbles[:, 8:12],
        dash,
        nibbles[:, 12:16],
        dash,
        nibbles[:, 16:20],
        dash,
        nibbles[:, 20:32],
    )
