"""Classifying files: the worker pool gives what one process gives, in order, errors kept."""

import numpy as np
import pytest

from musicgenre.errors import ConfigError
from musicgenre.inference import classify_file, classify_files, load_classifier


@pytest.fixture(scope="module")
def files(real_genres_dir, tmp_path_factory):
    picked = [real_genres_dir / g / f"{g}.00001.wav" for g in ("metal", "classical", "pop")]
    broken = tmp_path_factory.mktemp("bad") / "broken.wav"
    broken.write_bytes(b"RIFF....not audio")
    return [picked[0], broken, *picked[1:]]


@pytest.mark.parametrize("name", ["transfer", "crnn"])
def test_pool_matches_one_process_in_order_and_reports_bad_files(trained, files, name):
    model = trained[0] / name
    one = list(classify_files(model, files, workers=1, progress=False))
    two = list(classify_files(model, files, workers=2, progress=False))
    assert [r[0] for r in one] == [r[0] for r in two] == [str(f) for f in files]
    for (_, p1, e1), (_, p2, e2) in zip(one, two, strict=True):
        assert (e1 is None) == (e2 is None)
        if e1 is None:
            np.testing.assert_array_equal(p1, p2)  # one thread on every path: same bits
            assert p1.shape == (10,) and abs(p1.sum() - 1) < 1e-5
    assert one[1][1] is None and one[1][2].startswith(str(files[1]))
    # The pool and a plain call in this process agree (up to thread-count rounding).
    alone = classify_file(load_classifier(model), files[0])
    np.testing.assert_allclose(one[0][1], alone, atol=1e-4)


def test_a_device_that_is_not_there_is_a_clear_error(trained, files):
    with pytest.raises(ConfigError, match="no CUDA device"):
        list(classify_files(trained[0] / "transfer", files, device="cuda", progress=False))


def test_allocator_tuning_is_harmless_to_repeat():
    import platform

    from musicgenre.parallel import tune_allocator

    first, second = tune_allocator(), tune_allocator()
    assert first == second
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert first  # glibc took both thresholds
