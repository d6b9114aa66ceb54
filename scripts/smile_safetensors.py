"""Minimal safetensors reader/writer (numpy only), so the scripts need neither the
`safetensors` package nor network access. Format: 8-byte little-endian header length, JSON
header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the data."""
import json
import struct

import numpy as np

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("float16"): "F16",
           np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("uint8"): "U8"}
_NUMPY = {v: k for k, v in _DTYPES.items()}


def write(path, tensors, metadata=None):
    """tensors: {name: numpy array (or a (bf16 uint16 array, 'BF16') pair)}."""
    header, chunks, offset = {}, [], 0
    for name, array in tensors.items():
        if isinstance(array, tuple):
            data, dtype = np.ascontiguousarray(array[0]), array[1]
        else:
            data = np.ascontiguousarray(array)
            dtype = _DTYPES[data.dtype]
        raw = data.astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(data.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def read(path):
    """Returns ({name: numpy array}, metadata)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype=_NUMPY[e["dtype"]].newbyteorder("<")).reshape(e["shape"])
    return out, meta
