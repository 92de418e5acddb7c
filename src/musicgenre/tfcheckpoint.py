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

from musicgenre.errors import MusicGenreError

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}  # TF DataType enum


class CheckpointError(MusicGenreError):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


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
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _block_entries(table: bytes, handle: tuple[int, int]) -> list[tuple[bytes, bytes]]:
    """Key/value pairs of one table block (keys are prefix-compressed against the previous)."""
    offset, length = handle
    compression = table[offset + length]  # the byte after the block contents
    if compression != 0:
        raise CheckpointError(f"compressed table block (type {compression}) is not supported")
    block = table[offset:offset + length]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries, key, pos = [], b"", 0
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_length, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + value_length]))
        pos += value_length
    return entries


def _handle(buf: bytes, pos: int = 0) -> tuple[tuple[int, int], int]:
    offset, pos = _varint(buf, pos)
    length, pos = _varint(buf, pos)
    return (offset, length), pos


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """All tensors of the checkpoint at `prefix` (the path without `.index`), by name."""
    prefix = str(prefix)
    index_path = Path(prefix + ".index")
    try:
        table = index_path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{index_path}: cannot read ({exc.strerror})") from exc
    if (len(table) < _FOOTER_BYTES
            or struct.unpack_from("<Q", table, len(table) - 8)[0] != _TABLE_MAGIC):
        raise CheckpointError(f"{index_path}: not a TensorFlow checkpoint index")
    footer = table[-_FOOTER_BYTES:]
    _, pos = _handle(footer)  # the meta-index block, unused by checkpoints
    index_handle, _ = _handle(footer, pos)

    header, entries = None, {}
    for _, block_handle in _block_entries(table, index_handle):
        for key, value in _block_entries(table, _handle(block_handle)[0]):
            if key == b"":
                header = _proto_fields(value)
            else:
                entries[key.decode()] = _proto_fields(value)
    n_shards = header.get(1, [1])[0] if header else 1

    shards: dict[int, bytes] = {}
    tensors = {}
    for name, entry in entries.items():
        dtype = _DTYPES.get(entry.get(1, [0])[0])
        if dtype is None or 7 in entry:  # strings and sliced variables: not needed here
            continue
        shape = [_proto_fields(dim).get(1, [0])[0]
                 for dim in _proto_fields(entry[2][0]).get(2, [])] if 2 in entry else []
        shard = entry.get(3, [0])[0]
        offset, nbytes = entry.get(4, [0])[0], entry.get(5, [0])[0]
        if shard not in shards:
            data_path = Path(f"{prefix}.data-{shard:05d}-of-{n_shards:05d}")
            try:
                shards[shard] = data_path.read_bytes()
            except OSError as exc:
                raise CheckpointError(f"{data_path}: cannot read ({exc.strerror})") from exc
        raw = shards[shard][offset:offset + nbytes]
        if len(raw) != nbytes:
            raise CheckpointError(f"{prefix}: tensor {name} runs past the end of its data file")
        little_endian = np.dtype(dtype).newbyteorder("<")
        tensors[name] = np.frombuffer(raw, dtype=little_endian).reshape(shape).copy()
    return tensors
