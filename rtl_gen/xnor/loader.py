"""The loader (the DMA's read half): memory beats into entries of one on-chip memory."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.xnor import ENTRY

from ..shell import ADDRESS_BITS


def beats_per_entry(width: int, port_bits: int) -> int:
    """Beats one entry spans (entries at least as wide as a beat), else 1."""
    return max(1, width // port_bits)


def entries_per_beat(width: int, port_bits: int) -> int:
    """Entries one beat holds (entries narrower than a beat), else 1."""
    return max(1, port_bits // width)


class Loader(wiring.Component):
    """Copies ``count`` entries of ``width`` bits from byte ``address`` (beat-aligned; the entries form one
    little-endian bit stream) into a memory's entries ``entry`` … ``entry + count − 1``. ``width`` and the
    beat width are powers of two.

    Timing, with k = :func:`beats_per_entry` and e = :func:`entries_per_beat`: the cycle after ``start``
    it issues read requests, one every e cycles while ``rd_req`` is ready. A wide entry is assembled from
    its k beats and written in the cycle its last beat arrives; a beat of e narrow entries is written over
    e cycles from the cycle it arrives (``rd_data`` is ready then, and requests are spaced so it always
    is under the default memory model; a late beat only delays). ``busy`` is high from ``start`` until the
    cycle after the last entry has been written.

    Members
    -------
    start : ``In(1)``; address : ``In(32)``; entry, count : ``In(ENTRY)``
        Begin a load (a one-cycle pulse) with these arguments.
    busy : ``Out(1)``
    rd_req : ``Out(stream.Signature(32))``; rd_data : ``In(stream.Signature(port_bits))``
        The engine's memory read port (while this loader owns it).
    write_en, write_addr, write_data : ``Out``
        The memory's write port.
    """

    def __init__(self, width: int, port_bits: int):
        self.width, self.port_bits = width, port_bits
        super().__init__({
            "start": In(1),
            "address": In(ADDRESS_BITS),
            "entry": In(ENTRY),
            "count": In(ENTRY),
            "busy": Out(1),
            "rd_req": Out(stream.Signature(ADDRESS_BITS)),
            "rd_data": In(stream.Signature(port_bits)),
            "write_en": Out(1),
            "write_addr": Out(ENTRY),
            "write_data": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        width, port = self.width, self.port_bits
        k, e = beats_per_entry(width, port), entries_per_beat(width, port)
        k_bits, e_bits = (k - 1).bit_length(), (e - 1).bit_length()

        requests = Signal(ENTRY + k_bits + 1)  # beats still to request
        to_write = Signal(ENTRY + 1)  # entries still to write
        # requests != 0 and to_write != 0 as registers, updated with the counters (no wide OR on the request
        # and write paths)
        requesting, writing = Signal(), Signal()
        address = Signal(ADDRESS_BITS)
        entry = Signal(ENTRY)
        spacing = Signal(range(e + 1))  # cycles until the next request may go (narrow entries)

        with m.If(self.start):
            beats = self.count << k_bits if k > 1 else (self.count + e - 1) >> e_bits
            m.d.sync += [requests.eq(beats), requesting.eq(beats != 0), to_write.eq(self.count),
                         writing.eq(self.count != 0), address.eq(self.address), entry.eq(self.entry),
                         spacing.eq(0)]

        m.d.comb += [
            self.rd_req.valid.eq(requesting & (spacing == 0)),
            self.rd_req.payload.eq(address),
            self.busy.eq(self.start | writing),
            self.write_addr.eq(entry),
        ]
        with m.If(self.rd_req.valid & self.rd_req.ready):
            m.d.sync += [requests.eq(requests - 1), requesting.eq(requests != 1), address.eq(address + port // 8)]
            if e > 1:
                m.d.sync += spacing.eq(e - 1)
        with m.Elif(spacing != 0):
            m.d.sync += spacing.eq(spacing - 1)

        if k > 1 or e == 1:
            # Wide (or equal) entries: shift beats in from the top; write on an entry's last beat.
            m.d.comb += self.rd_data.ready.eq(1)
            if k == 1:
                m.d.comb += [self.write_data.eq(self.rd_data.payload), self.write_en.eq(self.rd_data.valid)]
            else:
                shift, beat = Signal(width), Signal(range(k))
                assembled = (self.rd_data.payload << (width - port)) | (shift >> port)
                m.d.comb += [self.write_data.eq(assembled), self.write_en.eq(self.rd_data.valid & (beat == k - 1))]
                with m.If(self.rd_data.valid):
                    m.d.sync += [shift.eq(assembled), beat.eq(beat + 1)]
            with m.If(self.write_en):
                m.d.sync += [entry.eq(entry + 1), to_write.eq(to_write - 1), writing.eq(to_write != 1)]
                if k > 1:
                    m.d.sync += beat.eq(0)
        else:
            # Narrow entries: write a beat's entries one per cycle, lowest first, from the cycle it arrives.
            held = Signal(port)
            left = Signal(range(e))  # entries of the held beat still to write after this cycle
            arrive = self.rd_data.valid & self.rd_data.ready
            current = Mux(arrive, self.rd_data.payload, held)
            active = arrive | (left != 0)
            m.d.comb += [self.rd_data.ready.eq(left == 0), self.write_data.eq(current[:width]),
                         self.write_en.eq(active & writing)]
            with m.If(active):
                m.d.sync += held.eq(current >> width)
            with m.If(self.write_en):
                m.d.sync += [entry.eq(entry + 1), to_write.eq(to_write - 1), writing.eq(to_write != 1)]
            with m.If(self.start):
                m.d.sync += left.eq(0)
            with m.Elif(arrive):
                m.d.sync += left.eq(e - 1)
            with m.Elif(left != 0):
                m.d.sync += left.eq(left - 1)
        return m
