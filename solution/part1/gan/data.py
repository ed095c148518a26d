"""MNIST for the notebooks (provided, not graded): load it offline, batch it.

`load_mnist` reads the standard MNIST IDX files when they are on disk and never
touches the network unless you ask it to (`download=True` or `download_mnist()`).
Without the files it falls back to scikit-learn's small bundled digits data set
(1797 images of 8x8 pixels), upscaled to look like MNIST, so that the notebook
always runs. Real MNIST gives much better pictures; to get it, either

- call `download_mnist("data")` (or `load_mnist("data", download=True)`) once,
  with internet access, or
- download the four files of MIRRORS below by hand into `data/`, or
- run `torchvision.datasets.MNIST("data", download=True)` if you have torchvision
  (it writes `data/MNIST/raw/`, which is read as well).
"""
import gzip
import struct
import urllib.request
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# Where MNIST can be downloaded from, tried in order (the files are the same).
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# IDX type codes (the third byte of the magic number) and their big-endian numpy types.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """The array stored in one IDX file (plain or gzipped, by the `.gz` suffix)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype, ndim = np.dtype(_IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) != header + count * dtype.itemsize:
        raise ValueError(f"{path}: expected {count} values of shape {shape}, "
                         f"found {len(data) - header} bytes of data")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(root, name):
    """The first of root/name(.gz) and root/MNIST/raw/name(.gz) that exists, or None."""
    for folder in (Path(root), Path(root) / "MNIST" / "raw"):
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                return candidate
    return None


def download_mnist(root="data", train=None):
    """Download the MNIST IDX files (.gz) into `root`: both splits, or just one with `train`.

    This is the only function here that uses the network; call it yourself, once.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    splits = (True, False) if train is None else (train,)
    for name in (name for split in splits for name in FILES[split]):
        if _find(root, name) is not None:
            continue
        target = root / (name + ".gz")
        errors = []
        for mirror in MIRRORS:
            try:
                with urllib.request.urlopen(mirror + name + ".gz", timeout=60) as response:
                    payload = response.read()
                gzip.decompress(payload)  # refuse an error page or a truncated file
            except Exception as error:  # noqa: BLE001 - try the next mirror
                errors.append(f"{mirror}: {error}")
                continue
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(payload)
            partial.replace(target)
            print(f"downloaded {target}")
            break
        else:
            raise RuntimeError(f"could not download {name}.gz:\n  " + "\n  ".join(errors))


def _digits_as_mnist(train=True):
    """scikit-learn's 8x8 digits, made MNIST-like: 28x28, a 20x20 digit centred, values in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0  # 16 grey levels -> [0, 1]
    labels = torch.tensor(digits.target, dtype=torch.long)
    images = F.interpolate(images, size=(20, 20), mode="bilinear", align_corners=False)
    images = F.pad(images, (4, 4, 4, 4))  # MNIST digits sit in a 20x20 box inside 28x28
    # MNIST strokes are saturated with a dark background: stretch the contrast a little.
    images = ((images - 0.1) / 0.6).clamp(0.0, 1.0)
    test = torch.arange(len(labels)) % 5 == 0  # a fixed 80/20 split
    keep = ~test if train else test
    return images[keep].contiguous(), labels[keep].contiguous()


def load_mnist(root="data", train=True, download=False, verbose=True):
    """MNIST as (images, labels): float32 (N, 1, 28, 28) in [0, 1] and int64 (N,).

    Reads `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (or the `t10k-`
    files with train=False), plain or `.gz`, from `root` or `root/MNIST/raw`.
    Without them: downloads them first if `download=True`, otherwise uses the
    scikit-learn digits fallback. Prints one line saying which source was used.
    """
    image_name, label_name = FILES[bool(train)]
    if download and (_find(root, image_name) is None or _find(root, label_name) is None):
        download_mnist(root, train=bool(train))
    image_path, label_path = _find(root, image_name), _find(root, label_name)
    split = "train" if train else "test"
    if image_path is not None and label_path is not None:
        images = torch.from_numpy(read_idx(image_path).astype(np.float32) / 255.0)
        labels = torch.from_numpy(read_idx(label_path).astype(np.int64))
        if images.ndim != 3 or images.shape[0] != labels.shape[0]:
            raise ValueError(f"{image_path} and {label_path} do not hold matching images and labels")
        images = images[:, None]
        if verbose:
            print(f"MNIST {split}: {len(labels)} images from {image_path.parent}")
        return images, labels
    images, labels = _digits_as_mnist(train)
    if verbose:
        print(f"MNIST not found under {str(root)!r}: using scikit-learn's 8x8 digits upscaled to 28x28 "
              f"({len(labels)} {split} images); for real MNIST run download_mnist({str(root)!r}) once "
              f"with internet (see the notebook's first cell)")
    return images, labels


def make_loader(*tensors, batch_size=128, shuffle=True, drop_last=True, seed=0, device=None):
    """A DataLoader over tensors of equal length (e.g. images, labels), yielding tuples of batches.

    Shuffling uses its own torch.Generator seeded with `seed`, so the batch order is
    reproducible. With `device`, the tensors are moved there once, up front, and
    batches come out on it. Each batch is one indexing operation (no per-item collation).
    """
    if device is not None:
        tensors = tuple(tensor.to(device) for tensor in tensors)
    dataset = torch.utils.data.TensorDataset(*tensors)
    if shuffle:
        order = torch.utils.data.RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    else:
        order = torch.utils.data.SequentialSampler(dataset)
    batches = torch.utils.data.BatchSampler(order, batch_size=batch_size, drop_last=drop_last)
    return torch.utils.data.DataLoader(dataset, sampler=batches, batch_size=None)
