"""The output packer (the DMA's write half): MVTU output chunks into memory beats and write requests."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from accel.isa.xnor import ENTRY
from accel.spec import XnorSpec

from ..shell import ADDRESS_BITS, write_layout
from .mvtu import output_layout


def int_beats(spec: XnorSpec) -> int:
    """Beats one chunk of pe int32 outputs occupies (zero-padded to whole beats)."""
    return -(-spec.pe * spec.OUTPUT_INT_BITS // spec.port_bits)


class Packer(wiring.Component):
    """Writes the output chunks of one Mvtu command to memory from ``out_address`` on.

    Bits (``dot`` low): each chunk's pe bits fill the next pe-bit slot of a beat (slot 0 lowest); after
    every ``nf`` chunks (a pixel) ``pixel_chunks − nf`` zero chunks follow, one slot per cycle; a full
    beat, or the beat holding the final chunk or zero chunk (zero above it), becomes a write request. Integers (``dot``
    high): each chunk's pe values, sign-extended to int32 and zero-padded, become :func:`int_beats`
    consecutive write requests.

    Timing: a chunk is accepted while no beat waits to be written beyond the current cycle and no zero
    chunks are being inserted, so an integer
    chunk is accepted in the cycle its predecessor's last beat is written (one chunk per
    :func:`int_beats` cycles at most) and bit chunks every cycle under an always-ready memory. ``done`` is
    high once the final chunk's beats are written and every write is acknowledged, until ``start``.

    Members
    -------
    start : ``In(1)``; out_address : ``In(32)``; dot, nf, pixel_chunks : ``In``
        Begin a command (a one-cycle pulse); the mode and the pixel's chunks are stable during it.
    i : ``In(stream.Signature(output_layout(spec)))``
    wr_req : ``Out(stream.Signature(write_layout))``; wr_ack : ``In(stream.Signature(1))``
    flushed : ``Out(1)``
        The final chunk's beats are all written (acknowledgements may be outstanding).
    done : ``Out(1)``
    """

    def __init__(self, spec: XnorSpec):
        self.spec = spec
        super().__init__({
            "start": In(1),
            "out_address": In(ADDRESS_BITS),
            "dot": In(1),
            "nf": In(ENTRY),
            "pixel_chunks": In(ENTRY),
            "i": In(stream.Signature(output_layout(spec))),
            "wr_req": Out(stream.Signature(write_layout(spec.port_bits))),
            "wr_ack": In(stream.Signature(1)),
            "flushed": Out(1),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        port, pe = spec.port_bits, spec.pe
        slots = port // pe
        m_beats = int_beats(spec)

        pending = Signal(m_beats * port)  # beats waiting to be written, lowest first
        pending_beats = Signal(range(m_beats + 1))
        address = Signal(ADDRESS_BITS)
        beat = Signal(port)  # the beat being filled with bit chunks
        slot = Signal(range(slots))
        final_seen = Signal()
        outstanding = Signal(16)
        # Every test on the accept path is a register kept beside its counter (no wide compare before the
        # beat's multiplexers): ``pixel_last`` is chunk_index == nf − 1 for the next chunk, ``zeroing``
        # zeros_left != 0, ``zeros_one`` zeros_left == 1.
        chunk_index = Signal(ENTRY)  # real chunks of the current pixel so far
        pixel_last = Signal()  # the next real chunk is its pixel's last
        zeros_left = Signal(ENTRY)  # zero chunks still to insert after the pixel's last
        zeroing, zeros_one = Signal(), Signal()
        # From the stable inputs: zero chunks per pixel, whether there are none or one, nf − 2, nf == 1.
        zeros, no_zeros, one_zero = Signal(ENTRY), Signal(), Signal()
        nf_penultimate, nf_one = Signal(ENTRY), Signal()
        m.d.sync += [zeros.eq(self.pixel_chunks - self.nf), no_zeros.eq(self.pixel_chunks == self.nf),
                     one_zero.eq(self.pixel_chunks == self.nf + 1), nf_penultimate.eq(self.nf - 2),
                     nf_one.eq(self.nf == 1)]

        write = self.wr_req.valid & self.wr_req.ready
        accept = self.i.valid & self.i.ready
        free = (pending_beats == 0) | ((pending_beats == 1) & self.wr_req.ready)
        inserting = zeroing & free
        m.d.comb += [
            self.wr_req.valid.eq(pending_beats != 0),
            self.wr_req.payload.address.eq(address),
            self.wr_req.payload.data.eq(pending[:port]),
            self.wr_ack.ready.eq(1),
            self.i.ready.eq(free & ~zeroing),
            self.flushed.eq(final_seen & (pending_beats == 0) & ~zeroing),
            self.done.eq(final_seen & (pending_beats == 0) & ~zeroing & (outstanding == 0)),
        ]
        m.d.sync += outstanding.eq(outstanding + write - self.wr_ack.valid)
        with m.If(write):
            m.d.sync += [pending.eq(pending >> port), pending_beats.eq(pending_beats - 1),
                         address.eq(address + port // 8)]

        chunk = self.i.payload
        filled = Signal(port)
        for s in range(slots):
            m.d.comb += filled[s * pe:(s + 1) * pe].eq(beat[s * pe:(s + 1) * pe])
            with m.If(accept & (slot == s)):
                m.d.comb += filled[s * pe:(s + 1) * pe].eq(chunk.bits)
        wide = [Signal(signed(spec.OUTPUT_INT_BITS), name=f"int_{p}") for p in range(pe)]
        m.d.comb += [wide[p].eq(chunk.ints[p]) for p in range(pe)]
        ints = Cat(*wide)

        def next_slot(flush):
            """Move past the slot just filled; write the beat when it is full or ``flush``."""
            with m.If((slot == slots - 1) | flush):
                m.d.sync += [pending.eq(filled), pending_beats.eq(1), beat.eq(0), slot.eq(0)]
            with m.Else():
                m.d.sync += [beat.eq(filled), slot.eq(slot + 1)]

        with m.If(accept):
            m.d.sync += final_seen.eq(chunk.final)
            with m.If(self.dot):
                m.d.sync += [pending.eq(ints), pending_beats.eq(m_beats)]
            with m.Else():
                m.d.sync += [chunk_index.eq(Mux(pixel_last, 0, chunk_index + 1)),
                             pixel_last.eq(Mux(pixel_last, nf_one, chunk_index == nf_penultimate)),
                             zeros_left.eq(Mux(pixel_last, zeros, 0)),
                             zeroing.eq(pixel_last & ~no_zeros), zeros_one.eq(pixel_last & one_zero)]
                next_slot(chunk.final & no_zeros)
        with m.Elif(inserting):
            m.d.sync += [zeros_left.eq(zeros_left - 1), zeroing.eq(~zeros_one), zeros_one.eq(zeros_left == 2)]
            next_slot(final_seen & zeros_one)
        with m.If(self.start):
            m.d.sync += [address.eq(self.out_address), beat.eq(0), slot.eq(0), final_seen.eq(0), chunk_index.eq(0),
                         pixel_last.eq(self.nf == 1), zeros_left.eq(0), zeroing.eq(0), zeros_one.eq(0)]
        return m
