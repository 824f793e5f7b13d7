"""A bounds-checked reader for the WebAssembly binary format's primitive encodings.

LEB128 integers follow the spec's malformedness rules: an encoding longer than
``ceil(N / 7)`` bytes is "integer representation too long", and a final byte whose bits
beyond the N-bit range are not zero (unsigned) or a copy of the sign bit (signed) is
"integer too large". The module-level ``read_*`` functions take ``(data, pos, end)`` and
return ``(value, new_pos)`` so the decoder's hot loop can call them without a Reader
object; ``Reader`` wraps them for the less frequently run section parsers.
"""

from __future__ import annotations

from collections.abc import Callable

from pyjitwasm.wasm.errors import DecodeError

LebReader = Callable[[bytes, int, int], tuple[int, int]]
"""``read(data, pos, end) -> (value, new_pos)``."""

UNEXPECTED_END = "unexpected end"
UNEXPECTED_END_OF_SECTION = "unexpected end of section or function"


def eof_error(data: bytes, end: int) -> DecodeError:
    """The error for a read that runs past ``end``."""
    return DecodeError(UNEXPECTED_END_OF_SECTION, end)


def _make_unsigned(bits: int) -> LebReader:
    """A reader for an unsigned LEB128 of at most ``bits`` bits."""
    last_shift = 7 * ((bits - 1) // 7)
    # Bits of the final byte that lie beyond the integer's range must be zero.
    unused = 0x7F & ~((1 << (bits - last_shift)) - 1)

    def read(data: bytes, pos: int, end: int) -> tuple[int, int]:
        result = 0
        shift = 0
        while True:
            if pos >= end:
                raise eof_error(data, end)
            b = data[pos]
            pos += 1
            if shift == last_shift:
                if b & 0x80:
                    raise DecodeError("integer representation too long", pos - 1)
                if b & unused:
                    raise DecodeError("integer too large", pos - 1)
                return result | (b << shift), pos
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result, pos
            shift += 7

    read.__name__ = f"read_u{bits}"
    read.__doc__ = f"Read an unsigned LEB128 of at most {bits} bits."
    return read


def _make_signed(bits: int) -> LebReader:
    """A reader for a signed LEB128 of at most ``bits`` bits."""
    last_shift = 7 * ((bits - 1) // 7)
    # The final byte's bits from the sign bit up must all equal the sign bit.
    sign_and_unused = 0x7F & ~((1 << (bits - last_shift - 1)) - 1)

    def read(data: bytes, pos: int, end: int) -> tuple[int, int]:
        result = 0
        shift = 0
        while True:
            if pos >= end:
                raise eof_error(data, end)
            b = data[pos]
            pos += 1
            if shift == last_shift:
                if b & 0x80:
                    raise DecodeError("integer representation too long", pos - 1)
                high = b & sign_and_unused
                if high != 0 and high != sign_and_unused:
                    raise DecodeError("integer too large", pos - 1)
            result |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                if b & 0x40:
                    result -= 1 << shift
                return result, pos

    read.__name__ = f"read_s{bits}"
    read.__doc__ = f"Read a signed LEB128 of at most {bits} bits."
    return read


read_u32 = _make_unsigned(32)
read_u64 = _make_unsigned(64)
read_s32 = _make_signed(32)
read_s33 = _make_signed(33)
read_s64 = _make_signed(64)


def read_name(data: bytes, pos: int, end: int) -> tuple[str, int]:
    """Read a length-prefixed UTF-8 name."""
    n, pos = read_u32(data, pos, end)
    if n > end - pos:
        raise DecodeError("length out of bounds", pos)
    raw = data[pos : pos + n]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("malformed UTF-8 encoding", pos + exc.start) from None
    return text, pos + n


class Reader:
    """A cursor over a module's bytes.

    Like the spec's reference decoder, reads are bounded only by the end of the module
    (running out is "unexpected end of section or function"); ``end`` marks the end of
    the section being read, which the caller checks once it has parsed the contents.
    ``limit`` can tighten the read bound (the name section parser uses it).
    """

    __slots__ = ("data", "pos", "end", "limit")

    def __init__(
        self, data: bytes, pos: int = 0, end: int | None = None, limit: int | None = None
    ) -> None:
        self.data = data
        self.pos = pos
        self.limit = len(data) if limit is None else limit
        self.end = self.limit if end is None else end

    def at_end(self) -> bool:
        return self.pos >= self.end

    def remaining(self) -> int:
        """Bytes left before the read bound."""
        return self.limit - self.pos

    def byte(self) -> int:
        pos = self.pos
        if pos >= self.limit:
            raise DecodeError(UNEXPECTED_END_OF_SECTION, self.limit)
        self.pos = pos + 1
        return self.data[pos]

    def peek(self) -> int | None:
        """The next byte without consuming it, or None at the read bound."""
        return self.data[self.pos] if self.pos < self.limit else None

    def bytes(self, n: int) -> bytes:
        pos = self.pos
        if n > self.limit - pos:
            raise DecodeError(UNEXPECTED_END_OF_SECTION, self.limit)
        self.pos = pos + n
        return self.data[pos : pos + n]

    def u32(self) -> int:
        value, self.pos = read_u32(self.data, self.pos, self.limit)
        return value

    def u64(self) -> int:
        value, self.pos = read_u64(self.data, self.pos, self.limit)
        return value

    def s32(self) -> int:
        value, self.pos = read_s32(self.data, self.pos, self.limit)
        return value

    def s33(self) -> int:
        value, self.pos = read_s33(self.data, self.pos, self.limit)
        return value

    def s64(self) -> int:
        value, self.pos = read_s64(self.data, self.pos, self.limit)
        return value

    def f32_bits(self) -> int:
        return int.from_bytes(self.bytes(4), "little")

    def f64_bits(self) -> int:
        return int.from_bytes(self.bytes(8), "little")

    def name(self) -> str:
        value, self.pos = read_name(self.data, self.pos, self.limit)
        return value

    def sized(self, size_offset: int) -> Reader:
        """Read a u32 byte size and return a reader whose ``end`` is that many bytes on;
        this reader's position moves to the same place (its contents are the caller's)."""
        size = self.u32()
        start = self.pos
        if size > self.limit - start:
            raise DecodeError("length out of bounds", size_offset)
        return Reader(self.data, start, start + size, self.limit)
