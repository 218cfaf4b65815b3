"""JWST data-quality bit values used by tso3 (the subset stage 3 needs)."""

DO_NOT_USE = 1
SATURATED = 2
JUMP_DET = 4
DROPOUT = 8
OUTLIER = 16
NON_SCIENCE = 512
FLUX_ESTIMATED = 1 << 28
#: In x1dints DQ of NIS_SOSS: the column's box also holds light of the other order.
OTHER_BAD_PIXEL = 1 << 30
REFERENCE_PIXEL = 1 << 31

#: Bits the outlier step ORs into DQ for a flagged pixel (as jwst does).
OUTLIER_FLAG = DO_NOT_USE | OUTLIER

_NAMES = {
    "DO_NOT_USE": DO_NOT_USE,
    "SATURATED": SATURATED,
    "JUMP_DET": JUMP_DET,
    "DROPOUT": DROPOUT,
    "OUTLIER": OUTLIER,
    "NON_SCIENCE": NON_SCIENCE,
    "FLUX_ESTIMATED": FLUX_ESTIMATED,
    "OTHER_BAD_PIXEL": OTHER_BAD_PIXEL,
    "REFERENCE_PIXEL": REFERENCE_PIXEL,
}


def interpret_bit_flags(good_bits: str | int | None) -> int:
    """Return the integer mask of DQ bits that mark a pixel as *bad*.

    Follows the jwst ``good_bits`` convention: the argument names the bits that
    are acceptable; a pixel is good iff ``(dq & ~good_bits) == 0``.  A leading
    ``~`` inverts, so ``"~DO_NOT_USE"`` means "every bit is fine except
    DO_NOT_USE".

    Parameters
    ----------
    good_bits : str, int or None
        ``None`` means no bit is acceptable except 0 (every set bit is bad).
        An int, or a string such as ``"~DO_NOT_USE"``, ``"~DO_NOT_USE+OUTLIER"``,
        ``"4,16"`` or ``"~1"``.

    Returns
    -------
    int
        Bits that make a pixel bad (``dq & bad_bits != 0``), limited to 32 bits.
    """
    full = 0xFFFFFFFF
    if good_bits is None:
        return full
    if isinstance(good_bits, int):
        return ~good_bits & full
    text = str(good_bits).strip().replace(" ", "")
    invert = text.startswith("~")
    if invert:
        text = text[1:]
    value = 0
    for token in filter(None, text.replace("|", "+").replace(",", "+").split("+")):
        if token.upper() in _NAMES:
            value |= _NAMES[token.upper()]
        else:
            try:
                value |= int(token, 0)
            except ValueError:
                raise ValueError(f"unknown DQ flag name {token!r} in good_bits") from None
    good = (~value & full) if invert else value
    return ~good & full
