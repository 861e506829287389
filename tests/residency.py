"""How much of a file this process has resident through its mappings (Linux smaps)."""

from __future__ import annotations

import os
from pathlib import Path


def resident_kib(path: Path) -> int:
    """Resident KiB of every mapping of `path` in this process (0 if none maps it)."""
    target = os.path.realpath(path)
    total, inside = 0, False
    with open("/proc/self/smaps", encoding="utf-8") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):  # a mapping's header line
                inside = len(fields) >= 6 and " ".join(fields[5:]) == target
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total
