"""Building blocks shared by the convolutional models."""

from torch import nn

from musicgenre.core.errors import ConfigError


def check_dropout(key: str, dropout: float) -> None:
    if not 0 <= dropout < 1:
        raise ConfigError(f"{key}.dropout: must be in [0, 1), got {dropout}")


def check_channels(key: str, channels: list[int]) -> None:
    if not channels or min(channels) < 1:
        raise ConfigError(f"{key}.channels: need at least one positive channel count")


class ConvBlock(nn.Sequential):
    """3x3 conv -> batch norm -> ReLU -> max-pool (the VGG-style block of most music CNNs)."""

    def __init__(self, in_channels: int, out_channels: int, pool: tuple[int, int]) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(pool, ceil_mode=True),
        )


def conv_stack(channels: list[int], n_rows: int, n_frames: int,
               time_pools: list[int]) -> tuple[nn.Sequential, int, int]:
    """Blocks that halve the feature axis each time (never below 1) and pool time as asked.

    Returns the stack and the (rows, frames) left after it.
    """
    blocks = []
    rows, frames = n_rows, n_frames
    for in_ch, out_ch, t_pool in zip([1, *channels[:-1]], channels, time_pools, strict=True):
        pool = (min(2, rows), min(t_pool, frames))
        blocks.append(ConvBlock(in_ch, out_ch, pool))
        rows, frames = -(-rows // pool[0]), -(-frames // pool[1])
    return nn.Sequential(*blocks), rows, frames
