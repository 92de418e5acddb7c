"""Where the neural networks run: device and precision, through Lightning Fabric.

`auto` picks CUDA, then Apple's MPS, then the CPU. Mixed precision is used only where it pays
and keeps results sound: bf16 on CUDA GPUs that support it (fp16 with loss scaling on older
ones), full float32 on MPS and on the CPU, where it also keeps runs bit-for-bit reproducible.
Fabric does the placement, the autocast and the loss scaling, and with several devices or
nodes the data-parallel processes (DDP); the training loop stays ours.
"""

from __future__ import annotations

from musicgenre.core.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")


def available() -> dict[str, bool]:
    import torch

    return {"cuda": torch.cuda.is_available(),
            "mps": bool(getattr(torch.backends, "mps", None)
                        and torch.backends.mps.is_available())}


def resolve_device(requested: str, found: dict[str, bool] | None = None) -> str:
    """The device to use for `requested` (auto | cpu | cuda | mps), given what torch finds."""
    found = available() if found is None else found
    if requested not in DEVICES:
        raise ConfigError(f"device: must be one of {' | '.join(DEVICES)}, got {requested!r}")
    if requested == "auto":
        return "cuda" if found.get("cuda") else "mps" if found.get("mps") else "cpu"
    if requested != "cpu" and not found.get(requested):
        raise ConfigError(f"device: '{requested}' was asked for but this torch build finds no "
                          f"{requested.upper()} device; use auto or cpu")
    return requested


def resolve_precision(requested: str, device: str, bf16_ok: bool | None = None) -> str:
    """Fabric's precision string for `requested` on `device` (auto: see the module doc)."""
    if requested not in PRECISIONS:
        raise ConfigError(f"precision: must be one of {' | '.join(PRECISIONS)}, "
                          f"got {requested!r}")
    if requested == "auto":
        if device != "cuda":
            return "32-true"
        if bf16_ok is None:
            import torch

            bf16_ok = torch.cuda.is_bf16_supported()
        return "bf16-mixed" if bf16_ok else "16-mixed"
    if requested == "16-mixed" and device == "cpu":
        raise ConfigError("precision: 16-mixed needs a GPU; on the CPU use 32-true or bf16-mixed")
    return requested


def make_fabric(device: str = "auto", precision: str = "auto", devices: int = 1,
                num_nodes: int = 1):
    """A launched Fabric on the resolved device and precision: one process, or with more
    `devices` (processes per machine; GPUs, or CPU processes with gloo) or `num_nodes`,
    PyTorch DDP. Started by `torchrun` or SLURM, Fabric joins the processes they made;
    otherwise it starts the other processes itself by running the same command again."""
    from lightning_fabric import Fabric

    resolved = resolve_device(device)
    parallel = devices * num_nodes > 1
    fabric = Fabric(accelerator=resolved, devices=devices, num_nodes=num_nodes,
                    strategy="ddp" if parallel else "auto",
                    precision=resolve_precision(precision, resolved))
    if parallel:
        fabric.launch()
    return fabric
