"""H.264 parameter sets, read and written by hand where PyAV has no API for them: the smart cut
puts the re-encoded head's SPS/PPS beside the source's in one ``avcC`` record, so one stream can
hold copied and re-encoded frames and play seamlessly."""

from __future__ import annotations

_AVCC_HIGH_PROFILES = {100, 110, 122, 144}  # their avcC record carries chroma and bit-depth bytes


def split_annexb(data: bytes, want: tuple[int, ...] | None) -> tuple[list[bytes], ...]:
    """NAL units of an Annex B byte stream: all of them, or (with ``want``) one list per type."""
    nals, i = [], 0
    starts = []
    while (j := data.find(b"\x00\x00\x01", i)) != -1:
        starts.append(j + 3)
        i = j + 3
    for n, s in enumerate(starts):
        stop = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        nal = data[s:stop].rstrip(b"\x00") if n + 1 < len(starts) else data[s:stop]
        if nal:
            nals.append(nal)
    if want is None:
        return (nals,)
    return tuple([n for n in nals if n[0] & 0x1F == kind] for kind in want)


def parse_avcc(avcc: bytes) -> tuple[list[bytes], list[bytes], bytes]:
    """(SPS list, PPS list, trailing bytes) of an avcC record."""
    at, sps, pps = 6, [], []
    for _ in range(avcc[5] & 0x1F):
        size = int.from_bytes(avcc[at:at + 2], "big")
        sps.append(avcc[at + 2:at + 2 + size])
        at += 2 + size
    count, at = avcc[at], at + 1
    for _ in range(count):
        size = int.from_bytes(avcc[at:at + 2], "big")
        pps.append(avcc[at + 2:at + 2 + size])
        at += 2 + size
    return sps, pps, avcc[at:]


def build_avcc(head: bytes, sps: list[bytes], pps: list[bytes], rest: bytes) -> bytes:
    out = bytearray(head)
    out.append(0xE0 | len(sps))
    for s in sps:
        out += len(s).to_bytes(2, "big") + s
    out.append(len(pps))
    for p in pps:
        out += len(p).to_bytes(2, "big") + p
    return bytes(out + rest) if head[1] in _AVCC_HIGH_PROFILES else bytes(out)


def _ue(data: bytes, bit: int) -> tuple[int, int]:
    """One unsigned Exp-Golomb value at ``bit`` of ``data`` (emulation bytes do not reach this far)."""
    zeros = 0
    while not (data[(bit + zeros) // 8] >> (7 - (bit + zeros) % 8)) & 1:
        zeros += 1
    bit += zeros + 1
    value = 0
    for _ in range(zeros):
        value = (value << 1) | ((data[bit // 8] >> (7 - bit % 8)) & 1)
        bit += 1
    return (1 << zeros) - 1 + value, bit


def sps_id(sps: bytes) -> int:
    return _ue(sps, 32)[0]  # after the NAL header, profile, constraint flags and level bytes


def pps_id(pps: bytes) -> int:
    return _ue(pps, 8)[0]  # after the NAL header
