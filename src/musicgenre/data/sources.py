"""Where each dataset comes from: mirrors, file names, sizes and published checksums.

These are facts about the sources, not experiment choices, so they live here rather than in
params.yaml (where they filled `dvc exp show` with URL and checksum columns). The download and
split stages list this module as a dependency, so a new mirror or checksum reruns them; a
params.yaml entry under the same key (for example `data.gtzan: {urls: [...], filename: ...,
sha256: ...}` for a local mirror) replaces the entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

from musicgenre.core.errors import ConfigError
from musicgenre.core.parsing import is_hex


@dataclass
class RemoteFile:
    """A file fetched from the first working mirror and verified before use."""

    urls: list[str]
    filename: str
    sha256: str | None = None
    sha1: str | None = None  # where the publisher gives only SHA-1 (FMA)
    md5: str | None = None
    bytes: int | None = None

    def check(self, key: str) -> None:
        if not self.urls:
            raise ConfigError(f"{key}.urls: give at least one URL")
        if not (self.sha256 or self.sha1 or self.md5):
            raise ConfigError(f"{key}: give sha256, sha1 or md5 so the download can be verified")
        for name, n in (("sha256", 64), ("sha1", 40), ("md5", 32)):
            value = getattr(self, name)
            if value is not None and (len(value) != n or not is_hex(value)):
                raise ConfigError(f"{key}.{name}: expected {n} hex digits, got {value!r}")

    def checks(self) -> dict:
        """The keyword arguments `fetch.verify` and `fetch.fetch` check a copy with."""
        return {"sha256": self.sha256, "sha1": self.sha1, "md5": self.md5,
                "expected_bytes": self.bytes}


# GTZAN (Tzanetakis and Cook, 2002): the official archive, mirrors tried in order.
GTZAN = RemoteFile(
    urls=["http://opihi.cs.uvic.ca/sound/genres.tar.gz",
          "https://huggingface.co/datasets/marsyas/gtzan/resolve/main/data/genres.tar.gz"],
    filename="genres.tar.gz",
    sha256="24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6",
    bytes=1225571541)

# 100 real GTZAN tracks: the archive mirdata uses for its "mini" GTZAN.
GTZAN_MINI = RemoteFile(
    urls=["https://github.com/TempoBeatDownbeat/gtzan_mini/archive/refs/heads/main.zip"],
    filename="gtzan_mini.zip", md5="44f7f23af8363d96c59663a987f29a4c")

# The Free Music Archive (Defferrard et al., ISMIR 2017), SHA-1s as FMA publishes them.
FMA_METADATA = RemoteFile(urls=["https://os.unil.cloud.switch.ch/fma/fma_metadata.zip"],
                          filename="fma_metadata.zip",
                          sha1="f0df49ffe5f2a6008d7dc83c6915b31835dfe733")
FMA_AUDIO = {  # per subset: small 7.2 GiB, medium 22 GiB, large 93 GiB
    "small": RemoteFile(urls=["https://os.unil.cloud.switch.ch/fma/fma_small.zip"],
                        filename="fma_small.zip",
                        sha1="ade154f733639d52e35e32f5593efe5be76c6d70"),
    "medium": RemoteFile(urls=["https://os.unil.cloud.switch.ch/fma/fma_medium.zip"],
                         filename="fma_medium.zip",
                         sha1="c67b69ea232021025fca9231fc1c7c1a063ab50b"),
    "large": RemoteFile(urls=["https://os.unil.cloud.switch.ch/fma/fma_large.zip"],
                        filename="fma_large.zip",
                        sha1="497109f4dd721066b5ce5e5f250ec604dc78939e"),
}

# Sturm's artist index of GTZAN (MIRUM 2012), for tracks with GTZAN names.
GTZAN_INDEX = RemoteFile(
    urls=["https://raw.githubusercontent.com/seungheondoh/gtzan-bind/main/dataset/metadata/"
          "sturm2013faults/GTZANindex.txt"],
    filename="GTZANindex.txt",
    sha256="7bc7140f082cccd72046ec7c6e9b9c211a7491f6e7ede38fddafc63058559833")

# Kereliuk and Sturm's fault-filtered GTZAN split lists (split.method: fault-filtered).
FAULT_FILTERED_BASE_URLS = ["https://raw.githubusercontent.com/coreyker/dnn-mgr/master/gtzan"]
FAULT_FILTERED_SHA256 = {
    "train_filtered.txt": "2b04966cef1486f1a7767b74271533fa23e220388db804a1937835e1fc4fa3fa",
    "valid_filtered.txt": "f8fbee7c52397a0e0f3a91dc54fedecb2e27f5bdc9a9daeab8cb10d077e26956",
    "test_filtered.txt": "09cafa6a89ce0a27f30ed250d56ecb4d03c22fffb5a693f96c7ae655ee02ac72",
}
