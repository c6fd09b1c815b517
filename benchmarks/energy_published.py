"""Our energy model (accel.cost, Horowitz's 45 nm table) next to published figures of EIE and Eyeriss.

Each published figure is printed next to ours with their ratio; nothing is fitted to make them agree.

- EIE (Han et al., ISCA 2016), on Alex-7 (4096 × 4096, 9 % weights, 35.3 % activations: random data at
  those densities, compiled for eie_table3.py's configuration of the paper: 64 PEs, 32 KiB of sparse-matrix
  SRAM per PE, where the paper's has 128 KB) through the perf model:
  - a PE's power at 800 MHz, 9.16 mW in 45 nm (Table II), and the memories' share of it, 59 %: ours is
    the on-chip energy of the Compute commands (weights resident, as the paper assumes: the loads' writes
    and DRAM left out) per PE over their cycles at 800 MHz. The paper's figure includes the clock tree
    (20 %) and registers (11 %), which our table does not model;
  - its savings (Section II): DRAM → SRAM 120× (a DRAM access against the sparse-matrix SRAM's, ours per
    64 bits at our SRAM's size and at the paper's 128 KB), sparsity 10× (the dense matrix's weights over the
    entries stored, padding included: the MACs and weight reads a dense layer would do more), weight
    sharing 8× (32-bit weights over 4-bit indices; ours: 32 bits over the stored bits per non-zero
    weight, index, zero run and padding included), skipping zero activations 3× (input columns over
    activations broadcast).
- Eyeriss (Chen, Emer and Sze, ISCA 2016, Fig. 1 / Table I): the energy of a 16-bit access normalized to a
  16-bit MAC — DRAM 200×, global buffer (100–500 kB; 108 KB on the chip) 6×, array (inter-PE) 2×,
  register file (0.5 kB) 1×. Ours: a MAC is an int16 multiply and an int32 add; buffer and register file
  are the SRAM law at 108 KiB and 0.5 KiB for 16 bits; the array's network is not in our table.

Run from the repository root::

    .venv/bin/python benchmarks/energy_published.py [--seed 0] [--out benchmarks/results/energy_published.json]
"""

import argparse
from pathlib import Path

import numpy as np
from eie_table3 import CLOCK_MHZ, LAYERS, PAPER, random_layer
from report import table, write_json

from accel.compiler.eie import lower_dense
from accel.cost import energy, load_table
from accel.progress import step
from accel.spec import EieSpec
from sim.perf.eie import run as perf

LOADED = ("dram_bytes", "spmat_writes", "ptr_writes", "codebook_writes")
"""Actions of the loads: left out of the PE's power (the paper's weights are resident)."""
EIE_PE_MW, EIE_MEMORY_SHARE, EIE_SPMAT_KIB = 9.16, 0.59, 128
EIE_SAVINGS = {"DRAM -> SRAM": 120, "sparsity": 10, "weight sharing": 8, "zero activations skipped": 3}
EYERISS = {"DRAM": 200, "global buffer (108 KB)": 6, "array (inter-PE)": 2, "register file (0.5 kB)": 1}
EYERISS_KIB = {"global buffer (108 KB)": 108, "register file (0.5 kB)": 0.5}


def row(figure: str, published: float, ours: float | None, unit: str) -> dict:
    return {"figure": figure, "published": published, "ours": ours, "unit": unit,
            "ratio": None if ours is None else ours / published}


def eie_rows(seed: int) -> tuple[list[dict], dict]:
    """EIE's PE power, memory share and savings against ours on Alex-7."""
    spec, t = EieSpec(**PAPER), load_table("45nm")
    layer, x = random_layer(np.random.default_rng(seed), spec, "Alex-7")
    lowered = lower_dense(spec, layer, x)
    counters = perf(lowered.program).counters
    e = energy(lowered.program, counters, t)
    resident = [a for a in e.actions if a.name not in LOADED]
    on_chip = sum(a.energy_pj for a in resident)
    memory = sum(a.energy_pj for a in resident if a.level in ("sram", "register_file"))
    seconds = (counters["compute_cycles"] + counters["writeback_cycles"]) / (CLOCK_MHZ * 1e6)
    pe_mw = on_chip * 1e-12 / seconds / spec.n_pe * 1e3
    n_in, n_out, _, _ = LAYERS["Alex-7"]
    nonzero = int(np.count_nonzero(layer.indices))
    stored_bits = lowered.plans[0].entries * 8  # a 4-bit index and a 4-bit zero run per entry, padding included
    spmat_kib = spec.spmat_lines * 8 / 1024
    rows = [
        row("PE power at 800 MHz", EIE_PE_MW, pe_mw, "mW"),
        row("memory share of the PE's power", EIE_MEMORY_SHARE, memory / on_chip, "fraction"),
        row(f"DRAM -> SRAM ({spmat_kib:g} KiB, ours)", EIE_SAVINGS["DRAM -> SRAM"],
            t.dram_pj(8) / t.sram_pj(spmat_kib, 64), "x"),
        row(f"DRAM -> SRAM ({EIE_SPMAT_KIB} KB, the paper's)", EIE_SAVINGS["DRAM -> SRAM"],
            t.dram_pj(8) / t.sram_pj(EIE_SPMAT_KIB, 64), "x"),
        row("sparsity", EIE_SAVINGS["sparsity"], n_in * n_out / lowered.plans[0].entries, "x"),
        row("weight sharing", EIE_SAVINGS["weight sharing"], 32 * nonzero / stored_bits, "x"),
        row("zero activations skipped", EIE_SAVINGS["zero activations skipped"],
            n_in / (counters["broadcasts"] - 1), "x"),  # less the bias column's broadcast
    ]
    return rows, {"spec": spec.to_dict(), "counters": counters, **e.to_dict()}


def eyeriss_rows() -> list[dict]:
    """Eyeriss's access energies normalized to a 16-bit MAC against ours."""
    t = load_table("45nm")
    mac = t.int_pj("mult", 16) + t.int_pj("add", 32)
    ours = {"DRAM": t.dram_pj(2), "array (inter-PE)": None,
            **{name: t.sram_pj(kib, 16) for name, kib in EYERISS_KIB.items()}}
    return [row(f"Eyeriss {name}", published, None if ours[name] is None else ours[name] / mac, "x MAC")
            for name, published in EYERISS.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "energy_published.json")
    args = parser.parse_args()
    with step("Alex-7 on 64 EIE PEs through the perf model"):
        eie, alex7 = eie_rows(args.seed)
    rows = eie + eyeriss_rows()
    print(table(rows, [("figure", "figure", "{}"), ("published", "published", "{:g}"), ("ours", "ours", "{:.3g}"),
                       ("unit", "unit", "{}"), ("ratio", "ours / published", "{:.2f}")]))
    write_json(args.out, "energy_published", table="45nm", seed=args.seed, clock_mhz=CLOCK_MHZ, rows=rows,
               alex7=alex7)


if __name__ == "__main__":
    main()
