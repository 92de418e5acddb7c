"""Device and precision choice (the GPU paths are chosen here; CI has only a CPU)."""

import pytest

from musicgenre.core.devices import make_fabric, resolve_device, resolve_precision
from musicgenre.core.errors import ConfigError

NONE = {"cuda": False, "mps": False}


@pytest.mark.parametrize(("found", "expected"), [
    ({"cuda": True, "mps": False}, "cuda"),
    ({"cuda": True, "mps": True}, "cuda"),  # CUDA first
    ({"cuda": False, "mps": True}, "mps"),
    (NONE, "cpu"),
])
def test_auto_picks_cuda_then_mps_then_cpu(found, expected):
    assert resolve_device("auto", found) == expected


def test_an_absent_device_asked_for_by_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="'cuda' was asked for .* no CUDA device"):
        resolve_device("cuda", NONE)
    with pytest.raises(ConfigError, match="no MPS device"):
        resolve_device("mps", {"cuda": True, "mps": False})
    with pytest.raises(ConfigError, match="must be one of auto"):
        resolve_device("tpu", NONE)
    assert resolve_device("cpu", {"cuda": True, "mps": True}) == "cpu"


@pytest.mark.parametrize(("device", "bf16", "expected"), [
    ("cuda", True, "bf16-mixed"), ("cuda", False, "16-mixed"),
    ("mps", None, "32-true"), ("cpu", None, "32-true")])
def test_auto_precision_is_mixed_only_on_cuda(device, bf16, expected):
    assert resolve_precision("auto", device, bf16) == expected


def test_precision_asked_for_is_kept_or_refused():
    assert resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"
    with pytest.raises(ConfigError, match="16-mixed needs a GPU"):
        resolve_precision("16-mixed", "cpu")
    with pytest.raises(ConfigError, match="precision: must be one of"):
        resolve_precision("64", "cpu")


def test_fabric_on_this_machine_runs_on_the_cpu_in_float32():
    fabric = make_fabric("cpu", "auto")
    assert fabric.device.type == "cpu"
    assert type(fabric.strategy.precision).__name__ == "Precision"  # plain 32-bit
