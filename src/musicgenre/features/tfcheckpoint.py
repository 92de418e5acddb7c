"""Read float tensors from a TensorFlow checkpoint (tensor bundle) without TensorFlow.

A checkpoint is an `.index` file, a LevelDB-format table mapping each variable name to a
`BundleEntryProto` (dtype, shape, shard, offset, size), and `.data-NNNNN-of-NNNNN` shards
holding the raw little-endian tensor bytes. Only the few pieces of the two formats that
checkpoints use are decoded here: uncompressed table blocks and the proto fields above.
This keeps TensorFlow (a very large dependency) out of the project just to load weights.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from musicgenre.core.errors import MusicGenreError

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}  # TF DataType enum


class CheckpointError(MusicGenreError):
    pass


class _Corrupt(Exception):
    """A decoding failure; read_checkpoint turns it into one line naming the file."""


def _crc32c_masked(data: bytes) -> int:
    """LevelDB's and TensorFlow's stored form of a CRC32C (rotated plus a constant, so a CRC
    of data that holds CRCs does not degenerate)."""
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Corrupt("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _take(buf: bytes, pos: int, n: int) -> tuple[bytes, int]:
    if n < 0 or pos + n > len(buf):
        raise _Corrupt("a field runs past the end of its record")
    return buf[pos:pos + n], pos + n


def _proto_fields(buf: bytes) -> dict[int, list]:
    """Decode one protobuf message into {field number: [values]} (no nested decoding)."""
    fields: dict[int, list] = {}
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = _take(buf, pos, 8)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = _take(buf, pos, length)
        elif wire == 5:
            value, pos = _take(buf, pos, 4)
        else:
            raise _Corrupt(f"unsupported protobuf wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _block_entries(table: bytes, handle: tuple[int, int]) -> list[tuple[bytes, bytes]]:
    """Key/value pairs of one table block (keys are prefix-compressed against the previous),
    after checking the block's CRC32C."""
    offset, length = handle
    if offset + length + 5 > len(table) or length < 4:
        raise _Corrupt("a block handle points outside the index")
    block = table[offset:offset + length]
    compression = table[offset + length]  # the byte after the block contents, then its CRC
    stored = struct.unpack_from("<I", table, offset + length + 1)[0]
    if _crc32c_masked(block + bytes([compression])) != stored:
        raise _Corrupt(f"block at byte {offset} fails its CRC32C check")
    if compression != 0:
        raise _Corrupt(f"compressed table block (type {compression}) is not supported")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    if end < 0:
        raise _Corrupt("a block's restart array is larger than the block")
    body = block[:end]  # the entries, before the restart array
    entries, key, pos = [], b"", 0
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_length, pos = _varint(block, pos)
        if shared > len(key):
            raise _Corrupt("a key shares more bytes than the previous key has")
        suffix, pos = _take(body, pos, unshared)
        key = key[:shared] + suffix
        value, pos = _take(body, pos, value_length)
        entries.append((key, value))
    return entries


def _handle(buf: bytes, pos: int = 0) -> tuple[tuple[int, int], int]:
    offset, pos = _varint(buf, pos)
    length, pos = _varint(buf, pos)
    return (offset, length), pos


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """All tensors of the checkpoint at `prefix` (the path without `.index`), by name.

    Every read is bounds-checked and every stored CRC32C (index blocks, tensor data) is
    verified; any damage is one CheckpointError naming the file."""
    prefix = str(prefix)
    index_path = Path(prefix + ".index")
    try:
        table = index_path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{index_path}: cannot read ({exc.strerror})") from None
    if (len(table) < _FOOTER_BYTES
            or struct.unpack_from("<Q", table, len(table) - 8)[0] != _TABLE_MAGIC):
        raise CheckpointError(f"{index_path}: not a TensorFlow checkpoint index")
    try:
        entries, n_shards = _read_index(table)
    except (_Corrupt, struct.error, UnicodeDecodeError, IndexError, ValueError) as exc:
        raise CheckpointError(f"{index_path}: corrupt checkpoint index ({exc})") from None

    shards: dict[int, bytes] = {}
    tensors = {}
    for name, entry in entries.items():
        dtype = _DTYPES.get(entry.get(1, [0])[0])
        if dtype is None or 7 in entry:  # strings and sliced variables: not needed here
            continue
        shard = entry.get(3, [0])[0]
        data_path = Path(f"{prefix}.data-{shard:05d}-of-{n_shards:05d}")
        try:
            shape = [_proto_fields(dim).get(1, [0])[0]
                     for dim in _proto_fields(entry[2][0]).get(2, [])] if 2 in entry else []
        except _Corrupt as exc:
            raise CheckpointError(f"{index_path}: tensor {name}: bad shape ({exc})") from None
        offset, nbytes = entry.get(4, [0])[0], entry.get(5, [0])[0]
        if shard not in shards:
            try:
                shards[shard] = data_path.read_bytes()
            except OSError as exc:
                raise CheckpointError(f"{data_path}: cannot read ({exc.strerror})") from None
        raw = shards[shard][offset:offset + nbytes]
        if len(raw) != nbytes:
            raise CheckpointError(f"{data_path}: tensor {name} runs past the end of the file")
        itemsize = np.dtype(dtype).itemsize
        if int(np.prod(shape, dtype=np.int64)) * itemsize != nbytes:
            raise CheckpointError(f"{index_path}: tensor {name}: shape {shape} does not "
                                  f"match its {nbytes} bytes")
        if 6 in entry:  # fixed32: the tensor bytes' masked CRC32C
            if _crc32c_masked(raw) != struct.unpack("<I", entry[6][0])[0]:
                raise CheckpointError(f"{data_path}: tensor {name} fails its CRC32C check "
                                      f"(the file is damaged)")
        little_endian = np.dtype(dtype).newbyteorder("<")
        tensors[name] = np.frombuffer(raw, dtype=little_endian).reshape(shape).copy()
    return tensors


def _read_index(table: bytes) -> tuple[dict[str, dict], int]:
    footer = table[-_FOOTER_BYTES:]
    _, pos = _handle(footer)  # the meta-index block, unused by checkpoints
    index_handle, _ = _handle(footer, pos)
    header, entries = None, {}
    for _, block_handle in _block_entries(table, index_handle):
        for key, value in _block_entries(table, _handle(block_handle)[0]):
            if key == b"":
                header = _proto_fields(value)
            else:
                entries[key.decode("utf-8")] = _proto_fields(value)
    n_shards = header.get(1, [1])[0] if header else 1
    return entries, n_shards
